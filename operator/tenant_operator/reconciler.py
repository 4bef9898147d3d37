"""The imperative shell of one reconcile: observe, call :func:`next_actions`, apply its actions.

No decisions are made here; this module reads the resource, its tenant table, its Jobs (and, for
finished ones, their pods' termination messages, or the plan Job's log) and applies what the pure
function returned, in its order. It runs in a worker thread (the Kubernetes client is blocking).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenant_operator.actions import (
    CreateMigrationJob,
    CreatePlanJob,
    EmitEvent,
    PauseSpec,
    SaveTable,
    UpdateStatus,
)
from tenant_operator.jobs import JobSettings, JobSpecBuilder
from tenant_operator.kube import ClusterClient
from tenant_operator.metrics import Metrics
from tenant_operator.model import MigrationSpec, Phase, SpecError
from tenant_operator.names import JOB_NAME_LABEL
from tenant_operator.observe import last_termination, observe_job, read_plan_log
from tenant_operator.observed import JobObservation, JobPhase, JobRole, Observed
from tenant_operator.rollout import iso, next_actions
from tenant_operator.state import TenantState, TenantTable
from tenant_operator.status import Outcome, build_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileResult:
    """What the daemon needs to know to schedule the next reconcile."""

    requeueAfter: float | None = None
    phase: str | None = None
    gone: bool = False


class Reconciler:
    """Reconciles one TenantMigration at a time; safe to call again at any moment."""

    def __init__(
        self,
        cluster: ClusterClient,
        *,
        job_settings: JobSettings | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster = cluster
        self.job_settings = job_settings or JobSettings()
        self.metrics = metrics or Metrics()
        self.clock = clock

    def reconcile(self, namespace: str, name: str) -> ReconcileResult:
        started = time.perf_counter()
        try:
            return self._reconcile(namespace, name)
        finally:
            self.metrics.reconcile_seconds.observe(time.perf_counter() - started)

    def _reconcile(self, namespace: str, name: str) -> ReconcileResult:
        body = self.cluster.get_migration(namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            self.metrics.forget(namespace, name)
            return ReconcileResult(gone=True)
        meta, status = body["metadata"], body.get("status") or {}
        try:
            spec = MigrationSpec.from_dict(body.get("spec") or {})
        except SpecError as exc:
            return self._refuse(body, str(exc))
        table, version = self.cluster.read_table(namespace, name)
        observed = self._observe(body, spec, table)
        decision = next_actions(spec, observed, self.clock())
        builder = JobSpecBuilder(
            name=name, namespace=namespace, uid=meta["uid"], spec=spec, settings=self.job_settings
        )
        phase = status.get("phase")
        for action in decision.actions:
            if isinstance(action, SaveTable):
                version = self.cluster.write_table(namespace, body, action.table, version)
            elif isinstance(action, PauseSpec):
                self.cluster.pause(namespace, name)
            elif isinstance(action, CreatePlanJob):
                self.cluster.create_job(namespace, builder.plan_job(action.attempt))
            elif isinstance(action, CreateMigrationJob):
                self.cluster.create_job(
                    namespace, builder.migrate_job(action.tenant, action.attempt)
                )
            elif isinstance(action, EmitEvent):
                level = logging.WARNING if action.type == "Warning" else logging.INFO
                logger.log(level, "%s/%s: %s: %s", namespace, name, action.reason, action.message)
                self.cluster.emit(body, action.type, action.reason, action.message)
                self.metrics.count_event(namespace, action.reason)
            elif isinstance(action, UpdateStatus):
                phase = action.status["phase"]
                if _changed(status, action.status):
                    self.cluster.patch_status(namespace, name, action.status)
        self.metrics.set_phase(namespace, name, phase)
        return ReconcileResult(requeueAfter=decision.requeueAfter, phase=phase)

    # --- observing -----------------------------------------------------------------------------
    def _observe(
        self, body: dict[str, Any], spec: MigrationSpec, table: TenantTable | None
    ) -> Observed:
        meta = body["metadata"]
        namespace, uid = meta["namespace"], meta["uid"]
        if table is not None and table.uid != uid:
            table = None  # left over from a deleted namesake; its owner reference will clean it
        jobs = self.cluster.list_jobs(namespace, uid)
        plain = [observe_job(job) for job in jobs]
        pods: dict[str | None, list[dict[str, Any]]] = {}
        if any(o and self._needs_result(o, table) for o in plain):
            # Grouped by Job once: matching every Job against every pod would be quadratic.
            for pod in self.cluster.list_pods(namespace, uid):
                labels = (pod.get("metadata") or {}).get("labels") or {}
                pods.setdefault(labels.get(JOB_NAME_LABEL), []).append(pod)
        observations = tuple(
            o for o in (observe_job(job, pods.get(_name(job), [])) for job in jobs) if o
        )
        plan_output = None
        if table is None or not table.planned:
            plan_output = self._read_plan(namespace, spec, table, observations, pods)
        return Observed(
            name=meta["name"],
            uid=uid,
            generation=int(meta.get("generation", 0)),
            table=table,
            jobs=observations,
            planOutput=plan_output,
            status=body.get("status") or {},
        )

    @staticmethod
    def _needs_result(job: JobObservation, table: TenantTable | None) -> bool:
        """Whether a finished Job's pods must be read (its result is not yet in the table)."""
        if job.phase is JobPhase.ACTIVE:
            return False
        if job.role is JobRole.PLAN:
            return table is None or not table.planned
        if table is None or job.tenant not in table.tenants:
            return False
        state = table.state_of(table.tenants.index(job.tenant))
        return state.is_active or state is TenantState.PENDING

    def _read_plan(
        self,
        namespace: str,
        spec: MigrationSpec,
        table: TenantTable | None,
        jobs: tuple[JobObservation, ...],
        pods: dict[str | None, list[dict[str, Any]]],
    ) -> Any:
        attempt = table.planAttempt if table else 0
        job = next((j for j in jobs if j.role is JobRole.PLAN and j.attempt == attempt), None)
        if job is None or job.phase is JobPhase.ACTIVE:
            return None
        if job.phase is JobPhase.FAILED and spec.retryFailed > attempt:
            return None  # a new plan attempt starts; this one's output is not used
        # The last pod that ran to the end holds the complete plan (earlier ones were retried).
        for pod in sorted(pods.get(job.name, []), key=_finished_at, reverse=True):
            text = self.cluster.read_log(namespace, pod["metadata"]["name"])
            plans = read_plan_log(text)
            if plans is not None:
                return plans
        return None

    # --- a spec the operator cannot run --------------------------------------------------------
    def _refuse(self, body: dict[str, Any], message: str) -> ReconcileResult:
        meta = body["metadata"]
        status = body.get("status") or {}
        outcome = Outcome(Phase.FAILED, "InvalidSpec", message)
        new = build_status(
            outcome=outcome,
            table=None,
            generation=int(meta.get("generation", 0)),
            previous=status,
            now_iso=iso(self.clock()),
        )
        if _changed(status, new):
            self.cluster.patch_status(meta["namespace"], meta["name"], new)
            self.cluster.emit(body, "Warning", "InvalidSpec", message)
        return ReconcileResult(phase=Phase.FAILED.value)


def _name(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("name")


def _finished_at(pod: dict[str, Any]) -> str:
    code, _ = last_termination([pod])
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    finished = [
        ((s.get("state") or {}).get("terminated") or {}).get("finishedAt") or "" for s in statuses
    ]
    return max(finished, default="") if code is not None else ""


def _changed(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before.get(key) != value for key, value in after.items())
