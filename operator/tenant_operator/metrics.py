"""Prometheus metrics of the operator, served on ``/metrics``.

Tenant counters are driven by the same events the operator posts on the resource, so the
metrics and ``kubectl describe tm`` always tell the same story.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tenant_operator.model import Phase

_EVENT_COUNTERS = {
    "TenantStarted": "started",
    "TenantSucceeded": "succeeded",
    "TenantFailed": "failed",
}


class Metrics:
    """The operator's metrics, in their own registry (tests create as many as they like)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.tenants = {
            key: Counter(
                f"tenantops_tenants_{key}",
                f"Tenants whose migrate Job {key}.",
                ["namespace"],
                registry=self.registry,
            )
            for key in _EVENT_COUNTERS.values()
        }
        self.rollouts = Gauge(
            "tenantops_rollouts",
            "TenantMigrations by phase.",
            ["phase"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "tenantops_reconcile_seconds",
            "Time one reconcile of a TenantMigration takes.",
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._phases: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        for phase in Phase:
            self.rollouts.labels(phase.value).set(0)

    def count_event(self, namespace: str, reason: str) -> None:
        key = _EVENT_COUNTERS.get(reason)
        if key:
            self.tenants[key].labels(namespace).inc()

    def set_phase(self, namespace: str, name: str, phase: str | None) -> None:
        with self._lock:
            if phase:
                self._phases[(namespace, name)] = phase
            self._publish()

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._phases.pop((namespace, name), None)
            self._publish()

    def _publish(self) -> None:
        for phase in Phase:
            count = sum(1 for p in self._phases.values() if p == phase.value)
            self.rollouts.labels(phase.value).set(count)

    def serve(self, port: int, address: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` over HTTP from a background thread."""
        start_http_server(port, addr=address, registry=self.registry)
