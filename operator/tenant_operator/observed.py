"""What the operator sees before deciding: the rollout's table, its Jobs and the plan's output.

The shell (``handlers.py``) builds these from API objects with :mod:`tenant_operator.observe`;
:func:`tenant_operator.rollout.next_actions` only ever reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from tenant_app.contract import MigrationReport, TenantPlan
from tenant_operator.state import TenantTable


class JobRole(StrEnum):
    """What a Job of a rollout does; its ``tenantops.dev/role`` label."""

    PLAN = "plan"
    MIGRATE = "migrate"


class JobPhase(StrEnum):
    ACTIVE = "Active"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class JobObservation:
    """One Job of the rollout, reduced to what decisions need."""

    name: str
    role: JobRole
    attempt: int
    phase: JobPhase
    tenant: str | None = None
    # From the last terminated container: its exit code and termination message (the report).
    exitCode: int | None = None
    report: MigrationReport | None = None
    # From the Job's Failed condition: BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy.
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Observed:
    """The state of one TenantMigration as read at the start of a reconcile."""

    name: str
    uid: str
    generation: int
    table: TenantTable | None
    jobs: tuple[JobObservation, ...] = ()
    # The parsed log of the current attempt's plan Job, once it has succeeded and been read.
    planOutput: tuple[TenantPlan, ...] | None = None
    # The status as it is now, to keep condition transition times and startedAt stable.
    status: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def _by_key(self) -> dict[tuple[JobRole, str | None, int], JobObservation]:
        # Looked up once per tenant per reconcile: a scan of every Job each time would make a
        # reconcile quadratic in the number of tenants. The first Job of a key wins, as before.
        index: dict[tuple[JobRole, str | None, int], JobObservation] = {}
        for job in self.jobs:
            tenant = job.tenant if job.role is JobRole.MIGRATE else None
            index.setdefault((job.role, tenant, job.attempt), job)
        return index

    def migrate_job(self, tenant: str, attempt: int) -> JobObservation | None:
        return self._by_key.get((JobRole.MIGRATE, tenant, attempt))

    def plan_job(self, attempt: int) -> JobObservation | None:
        return self._by_key.get((JobRole.PLAN, None, attempt))
