"""The durable per-tenant record of a rollout, and its ConfigMap codec.

Jobs are not durable (``ttlSecondsAfterFinished``, a person deleting them), so they cannot be the
only record of which tenants are done. The :class:`TenantTable` is: the frozen, ordered tenant
list with one state character per tenant, kept gzip-compressed in a ConfigMap owned by the
TenantMigration (``<name>-tenants``). 10,000 tenants take a few tens of KiB there, while the
resource's status only carries counters.

The order of writes makes a second run impossible: a tenant is written as CLAIMED *before* its Job
is created, so a restarted operator either finds the Job (deterministic name) or knows it was
never confirmed; a RUNNING tenant whose Job has vanished is failed as ``JobLost``, never re-run.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

TABLE_KEY = "table.json.gz"
TABLE_FORMAT = 1
# Failure details kept in the table (the status shows fewer); the state string counts them all.
FAILURE_DETAIL_CAP = 100
MESSAGE_CAP = 300


class TenantState(StrEnum):
    """One character per tenant in :attr:`TenantTable.states`."""

    PENDING = "P"  # needs a migrate Job; none started for the current attempt
    CLAIMED = "C"  # written just before its Job is created; the Job is not yet seen
    RUNNING = "R"  # its Job has been seen and has not finished
    SUCCEEDED = "S"  # its Job succeeded
    UP_TO_DATE = "U"  # the plan found nothing pending: counted as succeeded, no Job
    FAILED = "F"  # its Job failed, its Job vanished, or the plan refused it (unknown tenant)

    @property
    def is_active(self) -> bool:
        return self in (TenantState.CLAIMED, TenantState.RUNNING)

    @property
    def is_done(self) -> bool:
        return self in (TenantState.SUCCEEDED, TenantState.UP_TO_DATE, TenantState.FAILED)


@dataclass(frozen=True)
class Failure:
    """Why one tenant failed, as shown in ``status.failed``."""

    tenant: str
    exitCode: int | None
    reason: str
    message: str
    job: str | None
    attempt: int = 0

    def __post_init__(self) -> None:
        if len(self.message) > MESSAGE_CAP:
            object.__setattr__(self, "message", self.message[: MESSAGE_CAP - 3] + "...")


@dataclass(frozen=True)
class TenantTable:
    """Everything the operator must remember about one rollout, apart from its spec."""

    uid: str
    startedAt: str
    planAttempt: int = 0
    planned: bool = False
    tenants: tuple[str, ...] = ()
    states: str = ""
    # Attempt (the spec.retryFailed round) each tenant was last started in; 0 is left out.
    attempts: dict[str, int] = field(default_factory=dict)
    # Tenants the plan found pending, in order: the canary is taken from their head.
    needsJob: tuple[str, ...] = ()
    plan: tuple[tuple[str, int], ...] = ()
    failures: tuple[Failure, ...] = ()
    retryRound: int = 0
    lastStartAt: float | None = None
    # spec.generation after which un-pausing counts as promoting the canary; None: no gate yet.
    canaryGateGeneration: int | None = None
    canaryPromoted: bool = False
    completedAt: str | None = None

    # --- reading -------------------------------------------------------------------------
    def state_of(self, index: int) -> TenantState:
        return TenantState(self.states[index])

    def attempt_of(self, tenant: str) -> int:
        return self.attempts.get(tenant, 0)

    def counts(self) -> dict[TenantState, int]:
        return {state: self.states.count(state.value) for state in TenantState}

    @property
    def tenants_hash(self) -> str:
        """A short fingerprint of the frozen tenant list (shown in status)."""
        return hashlib.sha256("\n".join(self.tenants).encode()).hexdigest()[:16]

    # --- changing (returns copies: the table is a value) ----------------------------------
    def with_states(self, changes: dict[int, TenantState]) -> TenantTable:
        chars = list(self.states)
        for index, state in changes.items():
            chars[index] = state.value
        return replace(self, states="".join(chars))

    # --- codec -------------------------------------------------------------------------------
    def encode(self) -> str:
        """Base64 of gzip of compact JSON: the ConfigMap's ``binaryData`` value."""
        data = asdict(self)
        data["format"] = TABLE_FORMAT
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return base64.b64encode(gzip.compress(raw, mtime=0)).decode()

    @classmethod
    def decode(cls, text: str) -> TenantTable:
        """Inverse of :meth:`encode`; raises ``ValueError`` on anything else."""
        try:
            data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(text)))
        except (OSError, ValueError) as exc:
            raise ValueError(f"the tenant table is not readable: {exc}") from exc
        if data.pop("format", None) != TABLE_FORMAT:
            raise ValueError("the tenant table was written by an incompatible operator version")
        data["tenants"] = tuple(data["tenants"])
        data["needsJob"] = tuple(data["needsJob"])
        data["plan"] = tuple((m, n) for m, n in data["plan"])
        data["failures"] = tuple(Failure(**f) for f in data["failures"])
        return cls(**data)


def configmap_name(migration_name: str) -> str:
    """Name of the ConfigMap holding a rollout's table."""
    return f"{migration_name}-tenants"


def table_from_configmap(configmap: dict[str, Any]) -> TenantTable | None:
    """The table stored in a ConfigMap (as a dict from the API), or None when it has none."""
    encoded = (configmap.get("binaryData") or {}).get(TABLE_KEY)
    return TenantTable.decode(encoded) if encoded else None
