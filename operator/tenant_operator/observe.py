"""Turn API objects (plain dicts) into the observations :func:`next_actions` decides on.

Pure functions: the handlers list the Jobs and pods, these read them. A tenant's result comes from
its pod's termination message (the report JSON written to ``/dev/termination-log``) and exit code,
never from its log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tenant_app.contract import MigrationReport, TenantPlan, parse_plan_output
from tenant_operator.jobs import CONTAINER
from tenant_operator.names import JOB_NAME_LABEL, LABEL_ATTEMPT, LABEL_ROLE, LABEL_TENANT
from tenant_operator.observed import JobObservation, JobPhase, JobRole


def job_phase(job: dict[str, Any]) -> tuple[JobPhase, str | None, str | None]:
    """Active, Succeeded or Failed, with the Failed condition's reason and message."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobPhase.SUCCEEDED, None, None
        if condition.get("type") == "Failed":
            return JobPhase.FAILED, condition.get("reason"), condition.get("message")
    return JobPhase.ACTIVE, None, None


def last_termination(pods: Iterable[dict[str, Any]]) -> tuple[int | None, str | None]:
    """Exit code and termination message of the most recently finished migrate container."""
    latest: tuple[str, int | None, str | None] | None = None
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if status.get("name") != CONTAINER:
                continue
            terminated = (status.get("state") or {}).get("terminated")
            if not terminated:
                continue
            finished = terminated.get("finishedAt") or ""
            if latest is None or finished >= latest[0]:
                latest = (finished, terminated.get("exitCode"), terminated.get("message"))
    return (latest[1], latest[2]) if latest else (None, None)


def parse_report(message: str | None) -> MigrationReport | None:
    """The report in a termination message, or None when there is none (killed, OOM...)."""
    if not message:
        return None
    try:
        return MigrationReport.from_json(message)
    except ValueError:
        return None


def observe_job(job: dict[str, Any], pods: Iterable[dict[str, Any]] = ()) -> JobObservation | None:
    """One Job of a rollout as an observation; None for a Job without our labels."""
    metadata = job.get("metadata") or {}
    labels = metadata.get("labels") or {}
    try:
        role = JobRole(labels[LABEL_ROLE])
        attempt = int(labels.get(LABEL_ATTEMPT, "0"))
    except (KeyError, ValueError):
        return None
    phase, reason, message = job_phase(job)
    exit_code: int | None = None
    report: MigrationReport | None = None
    if phase is not JobPhase.ACTIVE:
        name = metadata.get("name")
        own = [
            p
            for p in pods
            if ((p.get("metadata") or {}).get("labels") or {}).get(JOB_NAME_LABEL) == name
        ]
        exit_code, text = last_termination(own)
        report = parse_report(text)
    return JobObservation(
        name=metadata.get("name", ""),
        role=role,
        attempt=attempt,
        phase=phase,
        tenant=labels.get(LABEL_TENANT),
        exitCode=exit_code,
        report=report,
        reason=reason,
        message=message,
    )


def read_plan_log(text: str) -> tuple[TenantPlan, ...] | None:
    """The plan lines of a plan Job's log, or None when the log has no final summary line.

    Without the summary the command did not finish (killed, crashed): a partial plan of
    ``all`` tenants would silently leave tenants out, so it is not used.
    """
    complete = any(line.lstrip().startswith('{"summary"') for line in text.splitlines())
    return tuple(parse_plan_output(text)) if complete else None
