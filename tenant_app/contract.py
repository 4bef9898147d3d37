"""The contract between the commands that run in a tenant's Job and the operator that reads them.

Defined once, here, in plain Python (no Django import), so that both ``tenant_app``'s commands and
``tenant_operator`` import the same exit codes, report format and plan format:

* exit codes of ``migratetenant`` (which are permanent, which are worth a retry);
* the JSON report written to ``--report-file`` / ``$TENANT_MIGRATE_REPORT`` (the Kubernetes
  termination message, so at most 4096 bytes);
* the JSON lines printed by ``migratealltenants --plan --json`` (the operator's discovery and
  planning Job; read from the pod log, so every line that is not ours is ignored);
* the document printed by ``listtenants --json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import IntEnum, StrEnum
from typing import Any

REPORT_ENV = "TENANT_MIGRATE_REPORT"
REPORT_MAX_BYTES = 4096
# Plan lines carry this key so they can be told apart from anything else a pod prints.
PLAN_LINE_KEY = "tenantPlan"
# Likewise for the per-tenant result lines of ``migratealltenants --json`` (without --plan).
RESULT_LINE_KEY = "tenantResult"


class ExitCode(IntEnum):
    """Exit codes of ``migratetenant``; the operator classifies failures by them."""

    OK = 0
    MIGRATION_FAILED = 1
    USAGE = 2
    UNKNOWN_TENANT = 3
    DB_UNREACHABLE = 4
    CONFLICTING_MIGRATIONS = 5
    NO_PRIVILEGE = 6
    TENANT_BUSY = 7


# Retrying these cannot help: the Job fails at once (podFailurePolicy action FailJob).
PERMANENT_EXIT_CODES: tuple[int, ...] = (
    ExitCode.UNKNOWN_TENANT,
    ExitCode.CONFLICTING_MIGRATIONS,
    ExitCode.NO_PRIVILEGE,
)
# Worth retrying (spec.rollout.retries): the database may come back, the other migrator finish.
TRANSIENT_EXIT_CODES: tuple[int, ...] = (ExitCode.DB_UNREACHABLE, ExitCode.TENANT_BUSY)


class ReportStatus(StrEnum):
    APPLIED = "applied"
    UP_TO_DATE = "up_to_date"
    PLANNED = "planned"
    FAILED = "failed"


@dataclass
class MigrationReport:
    """What one ``migratetenant`` run did, small enough for a termination message."""

    tenant: str
    status: ReportStatus
    exit_code: int = 0
    # Migration labels, "users/0002_alter_user_email": applied forwards, unapplied (migrating
    # backwards to an earlier migration or zero), and planned (what the run set out to do).
    applied: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    unapplied: list[str] = field(default_factory=list)
    # How many names were cut from each list to stay under the size limit.
    applied_truncated: int = 0
    planned_truncated: int = 0
    unapplied_truncated: int = 0
    error: str | None = None
    seconds: float = 0.0

    def to_json(self, max_bytes: int = REPORT_MAX_BYTES) -> str:
        """Serialise, dropping migration names (counted) and then clipping the error to fit."""
        data = self._as_dict()
        text = _dumps(data)
        lists = ("planned", "unapplied", "applied")
        for key, counter in ((name, f"{name}_truncated") for name in lists):
            while len(text.encode()) > max_bytes and data[key]:
                data[key].pop()
                data[counter] += 1
                text = _dumps(data)
        if len(text.encode()) > max_bytes and data["error"]:
            overflow = len(text.encode()) - max_bytes
            data["error"] = _clip(data["error"], len(data["error"].encode()) - overflow - 3)
            text = _dumps(data)
        return text

    def to_line(self) -> str:
        """One line of ``migratealltenants --json`` output (the full report, not clipped)."""
        return _dumps({RESULT_LINE_KEY: self._as_dict()})

    def _as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["seconds"] = round(self.seconds, 3)
        return data

    @classmethod
    def from_json(cls, text: str) -> MigrationReport:
        """Parse a report; raises ``ValueError`` when the text is not one."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a migration report: {text[:200]!r}") from exc

    @classmethod
    def from_dict(cls, data: Any) -> MigrationReport:
        """Build a report from its decoded JSON; raises ``ValueError`` when it is not one."""
        try:
            return cls(**_known_fields(cls, {**data, "status": ReportStatus(data["status"])}))
        except (TypeError, KeyError) as exc:
            raise ValueError(f"not a migration report: {str(data)[:200]!r}") from exc


@dataclass
class TenantPlan:
    """One tenant's plan, as printed by ``migratealltenants --plan --json``.

    ``pending``: migrations to apply, in order. ``unapply``: migrations to unapply, in order
    (a target before the tenant's state, or ``zero``). A plan towards one target goes one way
    only, so at most one of the two lists is non-empty. Added later than the other fields, so
    a line without it (an older app image) reads as nothing to unapply.
    """

    tenant: str
    pending: list[str] = field(default_factory=list)
    exit_code: int = 0
    error: str | None = None
    unapply: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        """Planned without error, with nothing to apply or unapply."""
        return self.exit_code == 0 and not self.pending and not self.unapply

    def to_line(self) -> str:
        return _dumps({PLAN_LINE_KEY: asdict(self)})


def parse_plan_output(text: str) -> list[TenantPlan]:
    """Read the plan lines out of a pod log, in order, ignoring every other line.

    Unknown keys in a plan line are ignored: an app image newer than the operator may add some.
    """
    plans: list[TenantPlan] = []
    for entry in _tagged_entries(text, PLAN_LINE_KEY):
        try:
            plans.append(TenantPlan(**_known_fields(TenantPlan, entry)))
        except (TypeError, AttributeError):
            continue
    return plans


def parse_result_output(text: str) -> list[MigrationReport]:
    """Read the result lines of ``migratealltenants --json`` out of a log, ignoring the rest."""
    reports: list[MigrationReport] = []
    for entry in _tagged_entries(text, RESULT_LINE_KEY):
        try:
            reports.append(MigrationReport.from_dict(entry))
        except ValueError:
            continue
    return reports


def _tagged_entries(text: str, key: str) -> Iterator[Any]:
    """The values under ``key`` of the JSON lines of a log that carry it; other lines skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{") or key not in line:
            continue
        try:
            yield json.loads(line)[key]
        except (TypeError, KeyError, json.JSONDecodeError):
            continue


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without keys ``cls`` lacks: a newer app image than the operator may add some."""
    known = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in known}


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _clip(text: str, max_bytes: int) -> str:
    encoded = text.encode()[: max(max_bytes, 0)]
    return encoded.decode(errors="ignore") + "..."
