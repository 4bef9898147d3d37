"""The rollout's decisions: one pure function of spec, observed state and time.

:func:`next_actions` does no I/O. It folds the observed Jobs into the durable :class:`TenantTable`,
decides which tenants start now (pacing, canary, pause, failure policy) and returns the actions
for the shell to apply, in order: the table first, so that a crash between any two actions leaves
a state the next call resumes from without running any tenant twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace

from tenant_app.contract import PERMANENT_EXIT_CODES, ExitCode, TenantPlan
from tenant_operator.actions import (
    Action,
    CreateMigrationJob,
    CreatePlanJob,
    Decision,
    EmitEvent,
    PauseSpec,
    SaveTable,
    UpdateStatus,
)
from tenant_operator.model import FailurePolicy, MigrationSpec, Phase
from tenant_operator.names import migrate_job_name
from tenant_operator.observed import JobObservation, JobPhase, Observed
from tenant_operator.state import FAILURE_DETAIL_CAP, Failure, TenantState, TenantTable
from tenant_operator.status import Outcome, build_status

# How soon to look again when a finished plan Job's log could not be read yet.
PLAN_READ_RETRY_SECONDS = 2.0
# Events for tenants the plan refused (unknown...): one each, up to this many, then the summary.
REFUSED_EVENTS = 20


def iso(timestamp: float) -> str:
    """RFC 3339 in UTC, as Kubernetes writes times."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exit_reason(code: int | None) -> str:
    """``UnknownTenant`` for 3 and so on: the reason shown for a failed tenant."""
    try:
        return "".join(w.capitalize() for w in ExitCode(code).name.split("_"))  # type: ignore[arg-type]
    except ValueError:
        return f"ExitCode{code}"


@dataclass
class _Step:
    """The working state of one call (local to it: the function stays pure)."""

    spec: MigrationSpec
    observed: Observed
    now: float
    table: TenantTable
    jobs: list[Action] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    pause: bool = False
    requeue: float | None = None

    def event(
        self, reason: str, message: str, *, warning: bool = False, tenant: str | None = None
    ) -> None:
        self.events.append(EmitEvent("Warning" if warning else "Normal", reason, message, tenant))


def next_actions(spec: MigrationSpec, observed: Observed, now: float) -> Decision:
    """Everything to do for one TenantMigration now; safe to call again at any time."""
    table = observed.table
    if table is None or table.uid != observed.uid:
        table = TenantTable(uid=observed.uid, startedAt=iso(now))
    step = _Step(spec, observed, now, table)
    outcome = _plan_stage(step)
    if step.table.planned:
        outcome = _dry_run_outcome(step) if spec.dryRun else _rollout_stage(step)
    _note_phase_change(step, outcome)
    if outcome.phase.is_terminal:
        if step.table.completedAt is None:
            step.table = replace(step.table, completedAt=iso(now))
    elif step.table.completedAt is not None:
        step.table = replace(step.table, completedAt=None)

    actions: list[Action] = []
    if step.table != observed.table:
        actions.append(SaveTable(step.table))
    if step.pause:
        actions.append(PauseSpec())
    actions.extend(step.jobs)
    actions.extend(step.events)
    status = build_status(
        outcome=outcome,
        table=step.table if step.table.planned else None,
        generation=observed.generation,
        previous=observed.status,
        now_iso=iso(now),
    )
    if not step.table.planned:
        status["startedAt"] = step.table.startedAt
    actions.append(UpdateStatus(status))
    return Decision(tuple(actions), step.requeue)


# --- discovery and plan ------------------------------------------------------------------------
def _plan_stage(step: _Step) -> Outcome:
    table = step.table
    if table.planned:
        return Outcome(Phase.RUNNING, "Running", "")
    job = step.observed.plan_job(table.planAttempt)
    if job and job.phase is JobPhase.FAILED and step.spec.retryFailed > table.planAttempt:
        step.table = table = replace(table, planAttempt=step.spec.retryFailed)
        job = step.observed.plan_job(table.planAttempt)
    if job is None:
        step.jobs.append(CreatePlanJob(table.planAttempt))
        step.event("Planning", "Started the discovery and planning Job.")
        return Outcome(Phase.PLANNING, "Planning", "Discovering tenants and planning migrations.")
    if job.phase is JobPhase.ACTIVE:
        return Outcome(
            Phase.PLANNING, "Planning", f"Job {job.name} is discovering tenants and planning."
        )
    output = step.observed.planOutput
    if job.phase is JobPhase.FAILED and output is None:
        why = f"{job.reason}: {job.message}" if job.reason else "it failed"
        return Outcome(
            Phase.FAILED,
            "PlanFailed",
            f"The plan Job {job.name} failed ({why}). Read its log with `kubectl logs job/"
            f"{job.name}`, fix the cause, then raise spec.retryFailed to plan again.",
        )
    if output is None:
        step.requeue = PLAN_READ_RETRY_SECONDS
        return Outcome(Phase.PLANNING, "ReadingPlan", f"Reading the plan from Job {job.name}.")
    # A plan Job that printed a complete plan but exited 1 had tenants it could not plan
    # (unknown, unreachable): the plan lines say which, so the rollout goes on.
    step.table = _freeze(step.spec, step.table, output)
    counts = step.table.counts()
    for failure in step.table.failures[:REFUSED_EVENTS]:
        step.event(
            "TenantFailed",
            f"Tenant {failure.tenant} failed at planning ({failure.reason}): {failure.message}",
            warning=True,
            tenant=failure.tenant,
        )
    step.event(
        "Planned",
        f"{len(step.table.tenants)} tenant(s): {len(step.table.needsJob)} to migrate, "
        f"{counts[TenantState.UP_TO_DATE]} up to date, {counts[TenantState.FAILED]} refused.",
    )
    return Outcome(Phase.RUNNING, "Running", "")


def _freeze(spec: MigrationSpec, table: TenantTable, plans: tuple[TenantPlan, ...]) -> TenantTable:
    """Fix the ordered tenant list and each tenant's first state from the plan."""
    by_id = {p.tenant: p for p in plans}
    if spec.tenants.ids:
        order = list(dict.fromkeys(spec.tenants.ids))
    else:
        excluded = set(spec.tenants.exclude)
        order = [t for t in dict.fromkeys(p.tenant for p in plans) if t not in excluded]
    states: list[str] = []
    needs: list[str] = []
    failures: list[Failure] = []
    pending: Counter[str] = Counter()
    for tenant in order:
        plan = by_id.get(tenant)
        refused = plan is not None and (
            plan.exit_code in PERMANENT_EXIT_CODES or (spec.dryRun and plan.exit_code != 0)
        )
        if plan is not None and refused:
            states.append(TenantState.FAILED.value)
            failures.append(
                Failure(tenant, plan.exit_code, exit_reason(plan.exit_code), plan.error or "", None)
            )
        elif plan is None or not plan.up_to_date:
            # Something to apply or unapply (the plan is exact for spec.migrate's target),
            # not planned, or planning hit a transient error: run the Job.
            states.append(TenantState.PENDING.value)
            needs.append(tenant)
            if plan is not None:
                pending.update(plan.pending)
                pending.update(f"{label} (unapply)" for label in plan.unapply)
        else:
            states.append(TenantState.UP_TO_DATE.value)
    return replace(
        table,
        planned=True,
        tenants=tuple(order),
        states="".join(states),
        needsJob=tuple(needs),
        plan=tuple(sorted(pending.items())),
        failures=tuple(failures[:FAILURE_DETAIL_CAP]),
    )


def _dry_run_outcome(step: _Step) -> Outcome:
    table = step.table
    failed = table.counts()[TenantState.FAILED]
    summary = (
        f"Dry run: {len(table.needsJob)} of {len(table.tenants)} tenant(s) have pending "
        f"migrations ({len(table.plan)} migration(s) in status.plan); nothing was applied."
    )
    if failed:
        return Outcome(
            Phase.FAILED, "PlanFailed", f"{summary} {failed} tenant(s) could not be planned."
        )
    return Outcome(Phase.SUCCEEDED, "DryRunSucceeded", summary)


# --- the rollout ---------------------------------------------------------------------------------
def _rollout_stage(step: _Step) -> Outcome:
    _start_retry_round(step)
    recreate = _fold_jobs(step)
    return _pace(step, recreate)


def _start_retry_round(step: _Step) -> None:
    table, wanted = step.table, step.spec.retryFailed
    if wanted <= table.retryRound:
        return
    failed = [i for i, s in enumerate(table.states) if s == TenantState.FAILED.value]
    names = {table.tenants[i] for i in failed}
    attempts = dict(table.attempts)
    attempts.update(dict.fromkeys(names, wanted))
    step.table = replace(
        table.with_states(dict.fromkeys(failed, TenantState.PENDING)),
        attempts=attempts,
        retryRound=wanted,
        failures=tuple(f for f in table.failures if f.tenant not in names),
    )
    if failed:
        step.event(
            "RetryingFailed", f"Running {len(failed)} failed tenant(s) again (attempt {wanted})."
        )


def _fold_jobs(step: _Step) -> list[str]:
    """Record finished Jobs in the table; return CLAIMED tenants whose Job must be (re)created."""
    table, obs = step.table, step.observed
    changes: dict[int, TenantState] = {}
    failures = list(table.failures)
    recreate: list[str] = []
    for index, tenant in enumerate(table.tenants):
        state = table.state_of(index)
        if state is not TenantState.PENDING and not state.is_active:
            continue
        attempt = table.attempt_of(tenant)
        job = obs.migrate_job(tenant, attempt)
        if job is None:
            if state is TenantState.CLAIMED:
                recreate.append(tenant)
            elif state is TenantState.RUNNING:
                changes[index] = TenantState.FAILED
                failures.append(_lost(step, tenant, attempt))
            continue
        # A Job for a PENDING tenant means the table write after it was lost: adopt the Job.
        if job.phase is JobPhase.ACTIVE:
            if state is not TenantState.RUNNING:
                changes[index] = TenantState.RUNNING
        elif job.phase is JobPhase.SUCCEEDED:
            changes[index] = TenantState.SUCCEEDED
            step.event("TenantSucceeded", _success_message(tenant, job), tenant=tenant)
        else:
            changes[index] = TenantState.FAILED
            failure = _failure(step.spec, tenant, attempt, job)
            failures.append(failure)
            step.event(
                "TenantFailed",
                f"Tenant {tenant} failed ({failure.reason}): {failure.message}",
                warning=True,
                tenant=tenant,
            )
    if changes:
        step.table = replace(
            table.with_states(changes), failures=tuple(failures[:FAILURE_DETAIL_CAP])
        )
    return recreate


def _lost(step: _Step, tenant: str, attempt: int) -> Failure:
    name = migrate_job_name(step.observed.name, step.observed.uid, tenant, attempt)
    step.event(
        "TenantFailed", f"Tenant {tenant}: its Job {name} disappeared.", warning=True, tenant=tenant
    )
    return Failure(
        tenant,
        None,
        "JobLost",
        "Its Job was deleted before its result was recorded, so the tenant was not run again. "
        "Check the tenant, then raise spec.retryFailed to run it again.",
        name,
        attempt,
    )


def _success_message(tenant: str, job: JobObservation) -> str:
    report = job.report
    if report is None:
        return f"Tenant {tenant} migrated (Job {job.name})."
    applied = len(report.applied) + report.applied_truncated
    return f"Tenant {tenant} migrated: {applied} migration(s) applied in {report.seconds:.1f}s."


def _failure(spec: MigrationSpec, tenant: str, attempt: int, job: JobObservation) -> Failure:
    code = job.report.exit_code if job.report and job.report.exit_code else job.exitCode
    if job.reason == "DeadlineExceeded":
        reason = "DeadlineExceeded"
        message = (
            f"The Job ran longer than spec.rollout.tenantTimeout ({spec.rollout.tenantTimeout})."
        )
    elif code:
        reason = exit_reason(code)
        message = (job.report.error if job.report else None) or job.message or ""
    else:
        reason, message = job.reason or "JobFailed", job.message or ""
    return Failure(tenant, code, reason, message, job.name, attempt)


def _pace(step: _Step, recreate: list[str]) -> Outcome:
    spec, table = step.spec, step.table
    rollout = spec.rollout
    counts = table.counts()
    running = counts[TenantState.CLAIMED] + counts[TenantState.RUNNING]
    failed = counts[TenantState.FAILED]
    pending = [i for i, s in enumerate(table.states) if s == TenantState.PENDING.value]
    step.jobs.extend(CreateMigrationJob(t, table.attempt_of(t)) for t in recreate)

    index_of = {t: i for i, t in enumerate(table.tenants)}
    canary = [index_of[t] for t in table.needsJob[: rollout.canary]]
    in_canary = set(canary)
    only_canary = False
    gate: Outcome | None = None
    if canary and not table.canaryPromoted:
        canary_states = [table.state_of(i) for i in canary]
        others_pending = any(i not in in_canary for i in pending)
        if not all(s.is_done for s in canary_states):
            only_canary = True
        elif TenantState.FAILED in canary_states:
            gate = Outcome(
                Phase.HALTED,
                "CanaryFailed",
                "A canary tenant failed, so no other tenant starts; see status.failed. Fix the "
                "cause and raise spec.retryFailed to run it again.",
            )
        elif rollout.pauseAfterCanary and others_pending:
            gate = _canary_gate(step, len(canary))
        else:
            step.table = table = replace(table, canaryPromoted=True)
            step.event("CanarySucceeded", f"The {len(canary)} canary tenant(s) succeeded.")

    halted = rollout.failurePolicy is FailurePolicy.HALT and failed > rollout.maxFailures
    total = len(table.tenants)
    if not pending and running == 0:
        if failed == 0:
            up = counts[TenantState.UP_TO_DATE]
            return Outcome(
                Phase.SUCCEEDED,
                "Succeeded",
                f"All {total} tenant(s) are migrated ({up} were up to date).",
            )
        return Outcome(
            Phase.FAILED,
            "TenantsFailed",
            f"{failed} of {total} tenant(s) failed; see status.failed. Fix the cause, then raise "
            "spec.retryFailed to run them again.",
        )
    if gate is not None and gate.phase is Phase.HALTED:
        return gate
    if halted:
        return Outcome(
            Phase.HALTED,
            "Halted",
            f"{failed} tenant(s) failed, more than spec.rollout.maxFailures "
            f"({rollout.maxFailures}): "
            "no new tenant starts. Raise spec.retryFailed to run the failed tenants again.",
        )
    if spec.paused:
        return Outcome(
            Phase.PAUSED,
            gate.reason if gate else "Paused",
            gate.message
            if gate
            else f"spec.paused is true: no new tenant starts ({running} running).",
        )
    if gate is not None:
        return gate
    candidates = [i for i in pending if not only_canary or i in in_canary]
    started = _start(step, candidates, running)
    stage = "canary " if only_canary else ""
    return Outcome(Phase.RUNNING, "Running", f"{running + started} {stage}tenant(s) running.")


def _canary_gate(step: _Step, size: int) -> Outcome | None:
    """Pause after the canary until a person sets spec.paused false; None once promoted."""
    table, spec, obs = step.table, step.spec, step.observed
    patch = '{"spec":{"paused":false}}'
    resume = f"kubectl patch tenantmigration {obs.name} --type merge -p '{patch}'"
    paused = Outcome(
        Phase.PAUSED,
        "CanaryPaused",
        f"The {size} canary tenant(s) succeeded; paused. Check them, then resume with: {resume}",
    )
    if table.canaryGateGeneration is None:
        # Our own patch of spec.paused bumps the generation once; only a later change resumes.
        gate = obs.generation + (0 if spec.paused else 1)
        step.table = replace(table, canaryGateGeneration=gate)
        step.pause = not spec.paused
        step.event("CanaryPaused", paused.message)
        return paused
    if spec.paused:
        return paused
    if obs.generation > table.canaryGateGeneration:
        step.table = replace(table, canaryPromoted=True)
        step.event("CanaryPromoted", "spec.paused was set false: the rollout goes on.")
        return None
    step.pause = True  # our pause patch was lost: make it again
    return paused


def _start(step: _Step, candidates: list[int], running: int) -> int:
    """Claim and start as many candidates as the pacing allows; return how many."""
    rollout, table = step.spec.rollout, step.table
    slots = rollout.maxConcurrent - running
    if slots <= 0 or not candidates:
        return 0
    interval = rollout.interval_seconds
    if interval > 0:
        if table.lastStartAt is not None and step.now < table.lastStartAt + interval:
            step.requeue = table.lastStartAt + interval - step.now
            return 0
        chosen = candidates[:1]
        if len(candidates) > 1:
            step.requeue = interval
    else:
        chosen = candidates[:slots]
    changes = dict.fromkeys(chosen, TenantState.CLAIMED)
    step.table = replace(table.with_states(changes), lastStartAt=step.now)
    for index in chosen:
        tenant = table.tenants[index]
        attempt = table.attempt_of(tenant)
        step.jobs.append(CreateMigrationJob(tenant, attempt))
        name = migrate_job_name(step.observed.name, step.observed.uid, tenant, attempt)
        step.event("TenantStarted", f"Tenant {tenant}: started Job {name}.", tenant=tenant)
    return len(chosen)


def _note_phase_change(step: _Step, outcome: Outcome) -> None:
    before = step.observed.status.get("phase")
    if before == outcome.phase.value:
        return
    if outcome.phase in (Phase.HALTED, Phase.FAILED):
        step.event(outcome.reason, outcome.message, warning=True)
    elif outcome.phase is Phase.SUCCEEDED:
        step.event(outcome.reason, outcome.message)
