"""The rollout's decisions over the pacing and failure matrix, without a cluster."""

from __future__ import annotations

from tenant_operator.actions import CreateMigrationJob, CreatePlanJob, PauseSpec, SaveTable
from tenant_operator.observed import JobRole
from tenant_operator.state import TenantState

from tenant_app.contract import TenantPlan

PENDING = ["users/0002_alter_user_email"]


def migrate_jobs(rollout) -> list[str]:
    return [j.tenant for j in rollout.jobs.values() if j.role is JobRole.MIGRATE]


# --- discovery and plan -------------------------------------------------------------------------
def test_first_reconcile_starts_the_plan_job_and_nothing_else(make_rollout):
    rollout = make_rollout()
    decision = rollout.reconcile()
    assert [
        type(a) for a in decision.actions if isinstance(a, CreatePlanJob | CreateMigrationJob)
    ] == [CreatePlanJob]
    assert rollout.phase == "Planning"
    assert migrate_jobs(rollout) == []


def test_plan_freezes_the_spec_order_and_skips_up_to_date_tenants(make_rollout):
    rollout = make_rollout(tenants={"ids": ["initech", "acme", "globex"]})
    rollout.reconcile()
    rollout.finish_plan(
        [TenantPlan("acme", PENDING), TenantPlan("globex", []), TenantPlan("initech", PENDING)]
    )
    rollout.reconcile()
    assert rollout.table.tenants == ("initech", "acme", "globex")
    assert rollout.counts["succeeded"] == 1 and rollout.counts["upToDate"] == 1
    assert rollout.status["plan"] == [{"migration": PENDING[0], "tenants": 2}]
    assert migrate_jobs(rollout) == ["initech"]  # maxConcurrent 1, spec order


def test_unknown_tenant_fails_at_plan_time_without_a_migrate_job(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme", "ghost"]}, rollout={"failurePolicy": "Continue"}
    )
    rollout.reconcile()
    rollout.finish_plan(
        [TenantPlan("acme", PENDING), TenantPlan("ghost", [], 3, "Tenant 'ghost' does not exist.")]
    )
    rollout.reconcile()
    rollout.succeed("acme")
    rollout.reconcile()
    assert migrate_jobs(rollout) == ["acme"]
    assert ("TenantFailed", "ghost") in [(e.reason, e.tenant) for e in rollout.events]
    assert rollout.phase == "Failed"
    assert rollout.status["failed"] == [
        {
            "tenant": "ghost",
            "exitCode": 3,
            "reason": "UnknownTenant",
            "message": "Tenant 'ghost' does not exist.",
            "attempt": 0,
        }
    ]


def test_all_tenants_are_taken_from_the_plan_minus_exclude(make_rollout):
    rollout = make_rollout(tenants={"all": True, "exclude": ["dev"]})
    rollout.reconcile()
    rollout.finish_plan([TenantPlan(t, PENDING) for t in ("acme", "dev", "globex")])
    rollout.reconcile()
    assert rollout.table.tenants == ("acme", "globex")
    assert rollout.status["tenantsHash"] == rollout.table.tenants_hash


def test_all_tenants_when_the_registry_is_empty_succeeds(make_rollout):
    rollout = make_rollout(tenants={"all": True})
    rollout.reconcile()
    rollout.finish_plan([])
    rollout.reconcile()
    assert rollout.phase == "Succeeded" and rollout.status["progress"] == "0/0"


def test_dry_run_stops_after_the_plan(make_rollout):
    rollout = make_rollout(dryRun=True)
    rollout.plan_all_pending()
    rollout.reconcile()
    assert rollout.phase == "Succeeded"
    assert migrate_jobs(rollout) == []
    assert rollout.status["plan"] == [{"migration": PENDING[0], "tenants": 3}]
    assert rollout.status["completedAt"]


def test_dry_run_with_a_tenant_that_cannot_be_planned_fails(make_rollout):
    rollout = make_rollout(dryRun=True)
    rollout.reconcile()
    rollout.finish_plan([TenantPlan("acme", PENDING), TenantPlan("globex", [], 4, "db down")])
    rollout.reconcile()
    assert rollout.phase == "Failed"
    assert migrate_jobs(rollout) == []


def test_failed_plan_job_fails_the_rollout_until_retry_failed_is_raised(make_rollout):
    rollout = make_rollout()
    rollout.reconcile()
    rollout.finish_plan([], ok=False)
    rollout.reconcile()
    assert rollout.phase == "Failed"
    assert "raise spec.retryFailed" in rollout.status["message"]
    rollout.patch(retryFailed=1)
    decision = rollout.reconcile()
    assert decision.of_type(CreatePlanJob) == [CreatePlanJob(1)]
    assert rollout.phase == "Planning"


def test_plan_output_not_read_yet_keeps_planning_and_asks_to_look_again(make_rollout):
    rollout = make_rollout()
    rollout.reconcile()
    rollout.finish_plan([])
    rollout.plan_output = None
    decision = rollout.reconcile()
    assert rollout.phase == "Planning" and decision.requeueAfter


# --- pacing -------------------------------------------------------------------------------------
def test_never_more_than_max_concurrent_tenants_run(make_rollout):
    ids = [f"t{i}" for i in range(10)]
    rollout = make_rollout(tenants={"ids": ids}, rollout={"maxConcurrent": 3})
    rollout.plan_all_pending()
    rollout.reconcile()
    assert rollout.running_tenants() == ["t0", "t1", "t2"]
    rollout.reconcile()
    assert len(rollout.running_tenants()) == 3
    rollout.succeed("t1")
    rollout.reconcile()
    assert rollout.running_tenants() == ["t0", "t2", "t3"]
    while rollout.phase != "Succeeded":
        for tenant in rollout.running_tenants():
            rollout.succeed(tenant)
        rollout.reconcile()
        assert len(rollout.running_tenants()) <= 3
    assert rollout.status["progress"] == "10/10"
    assert sorted(migrate_jobs(rollout)) == sorted(ids)


def test_interval_spaces_two_starts(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 3, "interval": "60s"})
    rollout.plan_all_pending()
    decision = rollout.reconcile()
    assert rollout.running_tenants() == ["acme"]
    assert decision.requeueAfter == 60
    decision = rollout.reconcile(advance=20)
    assert rollout.running_tenants() == ["acme"]
    assert decision.requeueAfter == 40
    rollout.reconcile(advance=40)
    assert rollout.running_tenants() == ["acme", "globex"]


def test_interval_counts_from_the_last_start_even_after_a_fast_tenant(make_rollout):
    rollout = make_rollout(rollout={"interval": "1m"})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.succeed("acme")
    rollout.reconcile(advance=5)
    assert rollout.running_tenants() == []
    rollout.reconcile(advance=55)
    assert rollout.running_tenants() == ["globex"]


def test_paused_starts_no_new_tenant_but_lets_running_ones_finish(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 2})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.patch(paused=True)
    rollout.succeed("acme")
    rollout.reconcile()
    assert rollout.phase == "Paused"
    assert rollout.running_tenants() == ["globex"]
    assert rollout.counts["succeeded"] == 1
    rollout.patch(paused=False)
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex", "initech"]


# --- canary -------------------------------------------------------------------------------------
def test_canary_runs_first_then_pauses_until_spec_paused_is_set_false(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 3, "canary": 1, "pauseAfterCanary": True})
    rollout.plan_all_pending()
    rollout.reconcile()
    assert rollout.running_tenants() == ["acme"]
    rollout.succeed("acme")
    decision = rollout.reconcile()
    assert decision.of_type(PauseSpec) == [PauseSpec()]
    assert rollout.spec["paused"] is True
    assert rollout.phase == "Paused"
    assert "kubectl patch" in rollout.status["message"]
    for _ in range(3):
        rollout.reconcile(advance=30)
        assert rollout.running_tenants() == []
    rollout.patch(paused=False)
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex", "initech"]
    assert "CanaryPromoted" in rollout.event_reasons()


def test_canary_gate_is_not_passed_by_our_own_pause_patch_being_lost(make_rollout):
    rollout = make_rollout(rollout={"canary": 1, "pauseAfterCanary": True})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.succeed("acme")
    # Simulate the PauseSpec patch failing: decide, keep the table, do not patch the spec.
    from tenant_operator.model import MigrationSpec
    from tenant_operator.rollout import next_actions

    decision = next_actions(MigrationSpec.from_dict(rollout.spec), rollout.observed(), rollout.now)
    rollout.table = decision.of_type(SaveTable)[0].table
    again = rollout.reconcile()
    assert again.of_type(PauseSpec) == [PauseSpec()]
    assert rollout.running_tenants() == []
    rollout.patch(paused=False)
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex"]


def test_canary_without_pause_goes_on_after_the_canary_succeeded(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 3, "canary": 2})
    rollout.plan_all_pending()
    rollout.reconcile()
    assert rollout.running_tenants() == ["acme", "globex"]
    rollout.succeed("acme")
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex"]  # the canary is not done yet
    rollout.succeed("globex")
    rollout.reconcile()
    assert rollout.running_tenants() == ["initech"]


def test_canary_skips_up_to_date_tenants(make_rollout):
    rollout = make_rollout(rollout={"canary": 1, "pauseAfterCanary": True})
    rollout.reconcile()
    rollout.finish_plan(
        [TenantPlan("acme", []), TenantPlan("globex", PENDING), TenantPlan("initech", PENDING)]
    )
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex"]


def test_failed_canary_halts_even_with_continue(make_rollout):
    rollout = make_rollout(rollout={"canary": 1, "failurePolicy": "Continue"})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.fail("acme", exit_code=1)
    rollout.reconcile()
    assert rollout.phase == "Halted"
    assert rollout.status["conditions"][0]["reason"] == "CanaryFailed"
    assert rollout.running_tenants() == []
    rollout.patch(retryFailed=1)
    rollout.reconcile()
    assert rollout.running_tenants() == ["acme"]


def test_no_pause_when_the_canary_was_every_tenant(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme"]}, rollout={"canary": 1, "pauseAfterCanary": True}
    )
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.succeed("acme")
    rollout.reconcile()
    assert rollout.phase == "Succeeded"
    assert rollout.spec.get("paused") is None


# --- failures -----------------------------------------------------------------------------------
def test_halt_stops_starting_once_failures_exceed_max_failures(make_rollout):
    ids = ["a", "b", "c", "d", "e"]
    rollout = make_rollout(tenants={"ids": ids}, rollout={"maxConcurrent": 2, "maxFailures": 1})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.fail("a")
    rollout.reconcile()
    assert rollout.phase == "Running"  # one failure is tolerated
    assert rollout.running_tenants() == ["b", "c"]
    rollout.fail("b", exit_code=4)
    rollout.reconcile()
    assert rollout.phase == "Halted"
    assert rollout.running_tenants() == ["c"]  # running tenants finish
    rollout.succeed("c")
    rollout.reconcile()
    assert rollout.phase == "Halted"
    assert sorted(migrate_jobs(rollout)) == ["a", "b", "c"]
    assert "Halted" in rollout.event_reasons()


def test_raising_max_failures_lets_a_halted_rollout_go_on(make_rollout):
    rollout = make_rollout()
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.fail("acme")
    rollout.reconcile()
    assert rollout.phase == "Halted"
    rollout.patch_rollout(maxFailures=1)
    rollout.reconcile()
    assert rollout.running_tenants() == ["globex"]


def test_continue_goes_on_and_ends_failed(make_rollout):
    rollout = make_rollout(rollout={"failurePolicy": "Continue"})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.fail("acme", exit_code=5, error="Conflicting migrations detected")
    rollout.reconcile()
    assert rollout.phase == "Running"
    for tenant in ("globex", "initech"):
        rollout.succeed(tenant)
        rollout.reconcile()
    assert rollout.phase == "Failed"
    assert rollout.status["tenants"] == {
        "total": 3,
        "pending": 0,
        "running": 0,
        "succeeded": 2,
        "upToDate": 0,
        "failed": 1,
    }
    failure = rollout.status["failed"][0]
    assert failure["reason"] == "ConflictingMigrations" and failure["exitCode"] == 5
    assert failure["job"] == rollout.job_of("acme").name
    ready = next(c for c in rollout.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"


def test_raising_retry_failed_runs_the_failed_tenants_again_in_a_new_job(make_rollout):
    rollout = make_rollout(rollout={"failurePolicy": "Continue"})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.fail("acme")
    first_job = rollout.job_of("acme").name
    for tenant in ("globex", "initech"):
        rollout.reconcile()
        rollout.succeed(tenant)
    rollout.reconcile()
    assert rollout.phase == "Failed"
    rollout.patch(retryFailed=1)
    rollout.reconcile()
    assert rollout.phase == "Running"
    second = rollout.job_of("acme")
    assert second.attempt == 1 and second.name != first_job
    rollout.succeed("acme")
    rollout.reconcile()
    assert rollout.phase == "Succeeded"
    assert rollout.status["failed"] == [] and rollout.status["completedAt"]
    ready = next(c for c in rollout.status["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"


def test_deadline_exceeded_is_reported_as_a_timeout(make_rollout):
    from dataclasses import replace

    from tenant_operator.observed import JobPhase

    rollout = make_rollout(rollout={"tenantTimeout": "5m", "failurePolicy": "Continue"})
    rollout.plan_all_pending()
    rollout.reconcile()
    job = rollout.job_of("acme")
    rollout.jobs[job.name] = replace(job, phase=JobPhase.FAILED, reason="DeadlineExceeded")
    rollout.reconcile()
    failure = rollout.status["failed"][0]
    assert failure["reason"] == "DeadlineExceeded" and "5m" in failure["message"]


# --- restart safety -----------------------------------------------------------------------------
def test_a_claimed_tenant_whose_job_was_never_created_gets_the_same_job(make_rollout):
    rollout = make_rollout()
    rollout.plan_all_pending()
    rollout.reconcile()
    name = rollout.job_of("acme").name
    rollout.vanish("acme")  # the operator died between writing the table and creating the Job
    rollout.created.clear()
    seen = len(rollout.events)
    rollout.reconcile()
    assert rollout.created == [name]
    assert "TenantStarted" not in [e.reason for e in rollout.events[seen:]]


def test_a_running_tenant_whose_job_vanished_is_failed_and_never_run_again(make_rollout):
    rollout = make_rollout(rollout={"failurePolicy": "Continue"})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.reconcile()  # the Job is seen: RUNNING
    rollout.vanish("acme")
    rollout.reconcile()
    assert rollout.status["failed"][0]["reason"] == "JobLost"
    assert migrate_jobs(rollout).count("acme") == 0
    assert rollout.running_tenants() == ["globex"]


def test_finished_jobs_survive_their_ttl_in_the_table(make_rollout):
    rollout = make_rollout()
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.succeed("acme")
    rollout.reconcile()
    rollout.vanish("acme")  # ttlSecondsAfterFinished removed it
    rollout.reconcile()
    assert rollout.table.state_of(0) is TenantState.SUCCEEDED
    assert rollout.counts["succeeded"] == 1


def test_a_job_found_for_a_pending_tenant_is_adopted_not_duplicated(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 3})
    rollout.plan_all_pending()
    rollout.reconcile()
    before = rollout.table
    # The table write was lost but the Jobs exist: the next decision must adopt them.
    rollout.table = before.with_states(
        {0: TenantState.PENDING, 1: TenantState.PENDING, 2: TenantState.PENDING}
    )
    rollout.created.clear()
    rollout.reconcile()
    assert rollout.created == []
    assert rollout.counts["running"] == 3


def test_deciding_twice_on_the_same_state_creates_nothing_new(make_rollout):
    rollout = make_rollout(rollout={"maxConcurrent": 2})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.created.clear()
    decision = rollout.reconcile()
    assert rollout.created == []
    assert not decision.of_type(SaveTable) or rollout.table.counts()[TenantState.RUNNING] == 2


# --- events and status --------------------------------------------------------------------------
def test_events_for_each_tenant_started_succeeded_and_failed(make_rollout):
    rollout = make_rollout(rollout={"failurePolicy": "Continue", "maxConcurrent": 3})
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.succeed("acme")
    rollout.fail("globex")
    rollout.succeed("initech")
    rollout.reconcile()
    by_tenant = {(e.reason, e.tenant) for e in rollout.events if e.tenant}
    for tenant in ("acme", "globex", "initech"):
        assert ("TenantStarted", tenant) in by_tenant
    assert ("TenantSucceeded", "acme") in by_tenant
    assert ("TenantFailed", "globex") in by_tenant
    warnings = [e for e in rollout.events if e.reason == "TenantFailed"]
    assert warnings[0].type == "Warning"


def test_status_observed_generation_and_conditions(make_rollout):
    rollout = make_rollout()
    rollout.plan_all_pending()
    rollout.reconcile()
    rollout.patch_rollout(maxConcurrent=2)
    rollout.reconcile()
    assert rollout.status["observedGeneration"] == rollout.generation
    conditions = {c["type"]: c["status"] for c in rollout.status["conditions"]}
    assert conditions == {"Ready": "False", "Progressing": "True", "Degraded": "False"}


def test_condition_transition_time_is_kept_while_the_condition_holds(make_rollout):
    rollout = make_rollout()
    rollout.plan_all_pending()
    rollout.reconcile()
    first = rollout.status["conditions"][1]["lastTransitionTime"]
    rollout.reconcile(advance=120)
    assert rollout.status["conditions"][1]["lastTransitionTime"] == first


def test_a_plan_job_that_failed_after_a_complete_plan_still_freezes_it(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme", "ghost"]}, rollout={"failurePolicy": "Continue"}
    )
    rollout.reconcile()
    rollout.finish_plan(
        [TenantPlan("acme", PENDING), TenantPlan("ghost", [], 3, "Tenant 'ghost' does not exist.")],
        ok=False,
    )
    rollout.reconcile()
    assert rollout.phase == "Running" and rollout.running_tenants() == ["acme"]


def test_a_migrate_target_skips_tenants_the_plan_finds_already_at_it(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme", "globex", "initech"]},
        migrate={"appLabel": "users", "migrationName": "0001"},
        rollout={"maxConcurrent": 3},
    )
    rollout.reconcile()
    unapply = ["users/0002_alter_user_email"]
    rollout.finish_plan(
        [
            TenantPlan("acme", [], unapply=unapply),
            TenantPlan("globex", []),
            TenantPlan("initech", ["users/0001_initial"]),
        ]
    )
    rollout.reconcile()
    assert rollout.running_tenants() == ["acme", "initech"]
    assert rollout.counts["upToDate"] == 1 and rollout.counts["pending"] == 0
    assert rollout.status["plan"] == [
        {"migration": "users/0001_initial", "tenants": 1},
        {"migration": "users/0002_alter_user_email (unapply)", "tenants": 1},
    ]
    rollout.succeed("acme")
    rollout.succeed("initech")
    rollout.reconcile()
    assert rollout.phase == "Succeeded" and migrate_jobs(rollout) == ["acme", "initech"]


def test_a_migrate_target_every_tenant_is_at_needs_no_migrate_job(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme", "globex"]}, migrate={"appLabel": "users", "migrationName": "zero"}
    )
    rollout.reconcile()
    rollout.finish_plan([TenantPlan(t, []) for t in ("acme", "globex")])
    rollout.reconcile()
    assert migrate_jobs(rollout) == [] and rollout.phase == "Succeeded"
    assert rollout.status["plan"] == []


def test_dry_run_with_a_target_reports_tenants_to_unapply(make_rollout):
    rollout = make_rollout(
        tenants={"ids": ["acme", "globex"]},
        migrate={"appLabel": "users", "migrationName": "zero"},
        dryRun=True,
    )
    rollout.reconcile()
    rollout.finish_plan(
        [TenantPlan("acme", [], unapply=["users/0001_initial"]), TenantPlan("globex", [])]
    )
    rollout.reconcile()
    assert migrate_jobs(rollout) == [] and rollout.phase == "Succeeded"
    assert rollout.status["plan"] == [{"migration": "users/0001_initial (unapply)", "tenants": 1}]
    assert any("Dry run: 1 of 2 tenant(s)" in c["message"] for c in rollout.status["conditions"])
