"""A fake cluster for the pure decision function: it applies actions the way the shell does."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from tenant_operator.actions import (
    CreateMigrationJob,
    CreatePlanJob,
    Decision,
    EmitEvent,
    PauseSpec,
    SaveTable,
    UpdateStatus,
)
from tenant_operator.model import MigrationSpec
from tenant_operator.names import migrate_job_name, plan_job_name
from tenant_operator.observed import JobObservation, JobPhase, JobRole, Observed
from tenant_operator.rollout import next_actions
from tenant_operator.state import TenantTable

from tenant_app.contract import MigrationReport, ReportStatus, TenantPlan

NAME, UID = "release-42", "0f4e-uid"


def spec_dict(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"image": "app:1", "tenants": {"ids": ["acme", "globex", "initech"]}}
    rollout = overrides.pop("rollout", {})
    spec.update(overrides)
    spec["rollout"] = rollout
    return spec


@dataclass
class FakeRollout:
    """One TenantMigration and its Jobs, driven by ``next_actions`` as the operator drives it."""

    spec: dict[str, Any]
    now: float = 1_000_000.0
    generation: int = 1
    table: TenantTable | None = None
    jobs: dict[str, JobObservation] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    events: list[EmitEvent] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    plan_output: tuple[TenantPlan, ...] | None = None
    last: Decision | None = None

    def observed(self) -> Observed:
        plan_done = any(
            j.role is JobRole.PLAN and j.phase is not JobPhase.ACTIVE for j in self.jobs.values()
        )
        return Observed(
            name=NAME,
            uid=UID,
            generation=self.generation,
            table=self.table,
            jobs=tuple(self.jobs.values()),
            planOutput=self.plan_output if plan_done else None,
            status=self.status,
        )

    def reconcile(self, advance: float = 0.0) -> Decision:
        self.now += advance
        decision = next_actions(MigrationSpec.from_dict(self.spec), self.observed(), self.now)
        for action in decision.actions:
            if isinstance(action, SaveTable):
                self.table = action.table
            elif isinstance(action, PauseSpec):
                self.patch(paused=True)
            elif isinstance(action, CreatePlanJob):
                name = plan_job_name(NAME, UID, action.attempt)
                self._create(JobObservation(name, JobRole.PLAN, action.attempt, JobPhase.ACTIVE))
            elif isinstance(action, CreateMigrationJob):
                name = migrate_job_name(NAME, UID, action.tenant, action.attempt)
                job = JobObservation(
                    name, JobRole.MIGRATE, action.attempt, JobPhase.ACTIVE, tenant=action.tenant
                )
                self._create(job)
            elif isinstance(action, EmitEvent):
                self.events.append(action)
            elif isinstance(action, UpdateStatus):
                self.status = action.status
        self.last = decision
        return decision

    def _create(self, job: JobObservation) -> None:
        if job.name in self.jobs:  # 409 Conflict: the Job exists already
            return
        self.jobs[job.name] = job
        self.created.append(job.name)

    def patch(self, **spec: Any) -> None:
        self.spec = {**self.spec, **spec}
        self.generation += 1

    def patch_rollout(self, **rollout: Any) -> None:
        self.patch(rollout={**self.spec.get("rollout", {}), **rollout})

    # --- what the cluster does on its own ---------------------------------------------------
    def finish_plan(self, plans: list[TenantPlan], ok: bool = True) -> None:
        for name, job in list(self.jobs.items()):
            if job.role is JobRole.PLAN and job.phase is JobPhase.ACTIVE:
                phase = JobPhase.SUCCEEDED if ok else JobPhase.FAILED
                reason = None if ok else "BackoffLimitExceeded"
                self.jobs[name] = replace(job, phase=phase, reason=reason, message=None)
        self.plan_output = tuple(plans) if ok or plans else None

    def plan_all_pending(self, tenants: list[str] | None = None) -> None:
        """Run the plan step: every tenant has users/0002 pending."""
        self.reconcile()
        ids = tenants or self.spec["tenants"].get("ids", [])
        self.finish_plan([TenantPlan(t, ["users/0002_alter_user_email"]) for t in ids])

    def running_tenants(self) -> list[str]:
        return [
            j.tenant or ""
            for j in self.jobs.values()
            if j.role is JobRole.MIGRATE and j.phase is JobPhase.ACTIVE
        ]

    def job_of(self, tenant: str) -> JobObservation:
        jobs = [j for j in self.jobs.values() if j.tenant == tenant]
        return max(jobs, key=lambda j: j.attempt)

    def succeed(self, tenant: str) -> None:
        job = self.job_of(tenant)
        report = MigrationReport(tenant, ReportStatus.APPLIED, applied=["users/0002"], seconds=0.5)
        self.jobs[job.name] = replace(job, phase=JobPhase.SUCCEEDED, exitCode=0, report=report)

    def fail(self, tenant: str, exit_code: int = 1, error: str = "boom") -> None:
        job = self.job_of(tenant)
        report = MigrationReport(tenant, ReportStatus.FAILED, exit_code=exit_code, error=error)
        self.jobs[job.name] = replace(
            job,
            phase=JobPhase.FAILED,
            exitCode=exit_code,
            report=report,
            reason="BackoffLimitExceeded",
            message="Job has reached the specified backoff limit",
        )

    def vanish(self, tenant: str) -> None:
        del self.jobs[self.job_of(tenant).name]

    @property
    def phase(self) -> str:
        return self.status["phase"]

    @property
    def counts(self) -> dict[str, int]:
        return self.status["tenants"]

    def event_reasons(self) -> list[str]:
        return [e.reason for e in self.events]


@pytest.fixture
def make_rollout():
    def make(**overrides: Any) -> FakeRollout:
        return FakeRollout(spec_dict(**overrides))

    return make
