"""The TenantMigration API as Python dataclasses: the spec (with its defaults) and the phases.

The defaults written here are the ones the CRD schema declares (``crd.py`` reads them from these
dataclasses), so the API server and the operator can never disagree about an omitted field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

GROUP = "tenantops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TenantMigration"
PLURAL = "tenantmigrations"
SINGULAR = "tenantmigration"
SHORT_NAMES = ("tm",)

DEFAULT_COMMAND = ("python", "manage.py")
DEFAULT_INTERVAL = "0s"
DEFAULT_TENANT_TIMEOUT = "30m"

# Go-style durations as Kubernetes users write them: 90s, 5m, 1h30m, 1.5h, 250ms.
DURATION_PATTERN = r"^([0-9]+([.][0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    """The controller owner reference to a TenantMigration: deleting it deletes the child."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


class SpecError(ValueError):
    """A spec the operator cannot act on; the message tells the user what to change."""


class Phase(StrEnum):
    """Where a rollout stands; ``status.phase``."""

    PENDING = "Pending"
    PLANNING = "Planning"
    RUNNING = "Running"
    PAUSED = "Paused"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    HALTED = "Halted"

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


class FailurePolicy(StrEnum):
    """What a failed tenant does to the rest of the rollout."""

    HALT = "Halt"
    CONTINUE = "Continue"


def parse_duration(text: str) -> float:
    """Seconds in a Go-style duration such as ``90s`` or ``1h30m``; raises :class:`SpecError`."""
    if not isinstance(text, str) or not re.fullmatch(DURATION_PATTERN, text):
        raise SpecError(
            f"{text!r} is not a duration: write a number and a unit (ms, s, m, h), "
            "e.g. 30s or 1h30m."
        )
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


@dataclass(frozen=True)
class TenantSelector:
    """``spec.tenants``: either explicit ``ids`` (in this order) or ``all`` minus ``exclude``."""

    ids: tuple[str, ...] = ()
    all: bool = False
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigrateOptions:
    """``spec.migrate``: the target and flags passed on to ``manage.py migratetenant``."""

    appLabel: str | None = None
    migrationName: str | None = None
    fake: bool = False
    fakeInitial: bool = False

    def command_args(self) -> list[str]:
        """The positional arguments and flags shared by ``migratetenant`` and the plan."""
        args: list[str] = []
        if self.appLabel:
            args.append(self.appLabel)
            if self.migrationName:
                args.append(self.migrationName)
        if self.fake:
            args.append("--fake")
        if self.fakeInitial:
            args.append("--fake-initial")
        return args


@dataclass(frozen=True)
class RolloutPolicy:
    """``spec.rollout``: pacing and failure handling. Every field may change during a rollout."""

    maxConcurrent: int = 1
    interval: str = DEFAULT_INTERVAL
    canary: int = 0
    pauseAfterCanary: bool = False
    failurePolicy: FailurePolicy = FailurePolicy.HALT
    maxFailures: int = 0
    retries: int = 0
    tenantTimeout: str = DEFAULT_TENANT_TIMEOUT

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval)

    @property
    def tenant_timeout_seconds(self) -> int:
        return max(1, round(parse_duration(self.tenantTimeout)))


@dataclass(frozen=True)
class MigrationSpec:
    """``spec`` of a TenantMigration, with every default filled in."""

    image: str
    tenants: TenantSelector
    command: tuple[str, ...] = DEFAULT_COMMAND
    migrate: MigrateOptions = field(default_factory=MigrateOptions)
    dryRun: bool = False
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)
    paused: bool = False
    retryFailed: int = 0
    jobTemplate: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> MigrationSpec:
        """Build from a resource's ``spec``; raises :class:`SpecError` for what the CRD missed.

        The API server validates and defaults first; this repeats the checks that matter for
        safety, because the operator may run against an older CRD or a server without CEL.
        """
        if not spec.get("image"):
            raise SpecError("spec.image is required: the app image that contains manage.py.")
        tenants = spec.get("tenants") or {}
        ids = tuple(tenants.get("ids") or ())
        everyone = bool(tenants.get("all", False))
        if bool(ids) == everyone:
            raise SpecError(
                "Set exactly one of spec.tenants.ids (a list) or spec.tenants.all: true."
            )
        rollout_in = dict(spec.get("rollout") or {})
        try:
            rollout_in["failurePolicy"] = FailurePolicy(rollout_in.get("failurePolicy", "Halt"))
        except ValueError as exc:
            raise SpecError("spec.rollout.failurePolicy must be Halt or Continue.") from exc
        known = RolloutPolicy.__dataclass_fields__
        rollout = RolloutPolicy(**{k: v for k, v in rollout_in.items() if k in known})
        rollout.interval_seconds  # noqa: B018 - parse now so a bad duration fails here
        rollout.tenant_timeout_seconds  # noqa: B018
        if rollout.maxConcurrent < 1:
            raise SpecError("spec.rollout.maxConcurrent must be at least 1.")
        if min(rollout.retries, rollout.maxFailures, rollout.canary) < 0:
            raise SpecError("spec.rollout retries, maxFailures and canary cannot be negative.")
        migrate_in = spec.get("migrate") or {}
        known_m = MigrateOptions.__dataclass_fields__
        return cls(
            image=spec["image"],
            tenants=TenantSelector(
                ids=ids, all=everyone, exclude=tuple(tenants.get("exclude") or ())
            ),
            command=tuple(spec.get("command") or DEFAULT_COMMAND),
            migrate=MigrateOptions(**{k: v for k, v in migrate_in.items() if k in known_m}),
            dryRun=bool(spec.get("dryRun", False)),
            rollout=rollout,
            paused=bool(spec.get("paused", False)),
            retryFailed=int(spec.get("retryFailed", 0)),
            jobTemplate=dict(spec.get("jobTemplate") or {}),
        )
