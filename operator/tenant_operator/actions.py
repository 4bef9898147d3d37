"""What :func:`tenant_operator.rollout.next_actions` asks the shell to do, in this order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tenant_operator.state import TenantTable


@dataclass(frozen=True)
class SaveTable:
    """Write the durable table (first: a tenant is CLAIMED before its Job exists)."""

    table: TenantTable


@dataclass(frozen=True)
class PauseSpec:
    """Set ``spec.paused: true`` (the canary gate); a person sets it false to go on."""


@dataclass(frozen=True)
class CreatePlanJob:
    """Create the discovery and planning Job of this attempt."""

    attempt: int


@dataclass(frozen=True)
class CreateMigrationJob:
    """Create one tenant's migrate Job (a 409 means it already exists: fine)."""

    tenant: str
    attempt: int


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the TenantMigration."""

    type: str  # Normal | Warning
    reason: str
    message: str
    tenant: str | None = None


@dataclass(frozen=True)
class UpdateStatus:
    """Replace the deliberate fields of ``status``."""

    status: dict[str, Any] = field(default_factory=dict)


Action = SaveTable | PauseSpec | CreatePlanJob | CreateMigrationJob | EmitEvent | UpdateStatus


@dataclass(frozen=True)
class Decision:
    """The actions of one reconcile, and when to look again at the latest."""

    actions: tuple[Action, ...]
    # Seconds until pacing allows the next start; None: wait for a change (Jobs, spec).
    requeueAfter: float | None = None

    def of_type(self, kind: type) -> list[Any]:
        return [a for a in self.actions if isinstance(a, kind)]
