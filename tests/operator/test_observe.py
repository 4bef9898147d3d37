"""Reading a Job's outcome from its status and its pod's termination message."""

from __future__ import annotations

from tenant_operator.observe import observe_job
from tenant_operator.observed import JobPhase, JobRole

from tenant_app.contract import MigrationReport, ReportStatus

LABELS = {
    "tenantops.dev/role": "migrate",
    "tenantops.dev/attempt": "1",
    "tenantops.dev/tenant": "acme",
}


def job(conditions=()):
    return {
        "metadata": {"name": "r-acme-1", "labels": LABELS},
        "status": {"conditions": list(conditions)},
    }


def pod(exit_code, message, finished="2025-01-01T00:00:10Z", job_name="r-acme-1"):
    return {
        "metadata": {"labels": {"batch.kubernetes.io/job-name": job_name}},
        "status": {
            "containerStatuses": [
                {
                    "name": "migrate",
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "message": message,
                            "finishedAt": finished,
                        }
                    },
                }
            ]
        },
    }


def test_a_running_job_is_active():
    seen = observe_job(job())
    assert seen.phase is JobPhase.ACTIVE and seen.role is JobRole.MIGRATE
    assert seen.tenant == "acme" and seen.attempt == 1


def test_a_failed_job_reads_its_report_from_the_latest_pod():
    report = MigrationReport("acme", ReportStatus.FAILED, exit_code=4, error="Cannot connect")
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "limit",
    }
    seen = observe_job(
        job([failed]),
        [
            pod(7, "not json", finished="2025-01-01T00:00:01Z"),
            pod(4, report.to_json()),
            pod(1, "other job", job_name="someone-else"),
        ],
    )
    assert seen.phase is JobPhase.FAILED and seen.reason == "BackoffLimitExceeded"
    assert seen.exitCode == 4 and seen.report == report


def test_a_succeeded_job_without_a_report_still_succeeds():
    seen = observe_job(job([{"type": "Complete", "status": "True"}]), [pod(0, "")])
    assert seen.phase is JobPhase.SUCCEEDED and seen.report is None and seen.exitCode == 0


def test_a_job_without_our_labels_is_ignored():
    assert observe_job({"metadata": {"name": "x", "labels": {}}}) is None


def test_a_plan_log_counts_only_when_the_command_finished():
    from tenant_operator.observe import read_plan_log

    lines = '{"tenantPlan":{"tenant":"acme","pending":["users/0002"],"exit_code":0,"error":null}}'
    assert read_plan_log(lines) is None
    plans = read_plan_log("Django noise\n" + lines + '\n{"summary":{"tenants":1}}\n')
    assert [p.tenant for p in plans] == ["acme"] and plans[0].pending == ["users/0002"]
