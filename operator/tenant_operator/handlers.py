"""The kopf layer: one daemon per TenantMigration, woken by its Jobs and by spec changes.

Handlers only observe and hand over to :class:`~tenant_operator.reconciler.Reconciler` (which
calls the pure :func:`~tenant_operator.rollout.next_actions`). One daemon per resource means the
reconciles of one rollout never overlap; Job events and spec edits wake it at once, and a resync
period (and the pacing interval) bound how long it sleeps otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException

from tenant_operator.kube import Conflict
from tenant_operator.model import GROUP, PLURAL, VERSION
from tenant_operator.names import LABEL_MIGRATION
from tenant_operator.reconciler import Reconciler

FINALIZER = f"{GROUP}/operator"


@dataclass
class OperatorState:
    """What the handlers share (kopf's memo): the reconciler and each daemon's wake-up call."""

    reconciler: Reconciler
    resync_seconds: float = 30.0
    wakers: dict[tuple[str, str], asyncio.Event] = field(default_factory=dict)

    def wake(self, namespace: str | None, name: str | None) -> None:
        event = self.wakers.get((namespace or "", name or ""))
        if event is not None:
            event.set()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Operator-wide kopf settings: our finalizer name, annotations for kopf's own state."""
    settings.persistence.finalizer = FINALIZER
    # Least privilege: no cluster-wide list/watch of Namespaces and CRDs. The watched namespaces
    # are exact names and our CRD exists before the operator starts (the chart installs it).
    settings.scanning.disabled = True
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING  # our own Events say what happened to tenants
    settings.watching.server_timeout = 300
    settings.execution.max_workers = 8


@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0)
async def run_rollout(
    *,
    namespace: str | None,
    name: str,
    stopped: kopf.DaemonStopped,
    memo: Any,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    **_: Any,
) -> None:
    """Reconcile one TenantMigration until it is deleted or the operator stops."""
    state: OperatorState = memo.operator
    namespace = namespace or ""
    wake = asyncio.Event()
    state.wakers[(namespace, name)] = wake
    failures = 0
    try:
        while not stopped:
            wake.clear()
            delay = state.resync_seconds
            try:
                result = await asyncio.to_thread(state.reconciler.reconcile, namespace, name)
                failures = 0
            except Conflict as exc:
                logger.info(f"{exc}; reconciling again.")
                delay = 0.2
            except ApiException as exc:
                failures += 1
                delay = min(2.0**failures, state.resync_seconds)
                logger.warning(f"API error {exc.status} {exc.reason}; retrying in {delay:.0f}s.")
            else:
                if result.gone:
                    return
                if result.requeueAfter is not None:
                    delay = min(max(result.requeueAfter, 0.05), state.resync_seconds)
            await _sleep(wake, stopped, delay)
    finally:
        state.wakers.pop((namespace, name), None)


async def _sleep(wake: asyncio.Event, stopped: kopf.DaemonStopped, seconds: float) -> None:
    waits = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopped.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()


@kopf.on.event("batch", "v1", "jobs", labels={LABEL_MIGRATION: kopf.PRESENT})
def job_changed(*, namespace: str | None, labels: Mapping[str, str], memo: Any, **_: Any) -> None:
    """A rollout's Job changed: wake that rollout's daemon."""
    memo.operator.wake(namespace, labels.get(LABEL_MIGRATION))


@kopf.on.event(GROUP, VERSION, PLURAL)
def migration_changed(
    *,
    namespace: str | None,
    name: str,
    meta: kopf.Meta,
    status: kopf.Status,
    memo: Any,
    **_: Any,
) -> None:
    """The spec changed (paused, retryFailed, pacing): wake its daemon. Status writes do not."""
    if meta.get("generation") != status.get("observedGeneration"):
        memo.operator.wake(namespace, name)
