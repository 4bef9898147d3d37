"""Helpers of the operator's end-to-end tests: the chart installed, the operator as a process.

The operator runs as a local process (there is no container runtime) with a kubeconfig for the
chart's ServiceAccount, so every call it makes passes through the chart's RBAC.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcluster.controlplane import free_port

REPO = Path(__file__).resolve().parents[2]
MANAGE = REPO / "example" / "manage.py"
CHART = REPO / "charts" / "tenantops-operator"
RELEASE = "tenantops-operator"
OPERATOR_NAMESPACE = "tenantops-system"


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the example project's manage.py with a tenant database environment."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TENANTOPS_DATA_DIR")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def create_tenants(env: dict[str, str], *tenants: str) -> None:
    """The control database migrated and the tenants registered (nothing migrated in them)."""
    result = manage("migrate", "-v", "0", env=env)
    assert result.returncode == 0, result.stderr
    for tenant in tenants:
        result = manage(
            "createtenant", f"--tenant-id={tenant}", f"--name={tenant}", "--no-input", env=env
        )
        assert result.returncode == 0, result.stderr


def pending_by_tenant(env: dict[str, str]) -> dict[str, list[str]]:
    """What each tenant's database still lacks, asked of the databases themselves."""
    result = manage("migratealltenants", "--plan", "--json", env=env)
    plans = {}
    for line in result.stdout.splitlines():
        if line.startswith('{"tenantPlan"'):
            entry = json.loads(line)["tenantPlan"]
            plans[entry["tenant"]] = entry["pending"]
    return plans


def env_list(env: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in env.items()]


@dataclass
class OperatorProcess:
    """``python -m tenant_operator`` running with the chart's ServiceAccount."""

    kubeconfig: Path
    namespaces: list[str]
    log: Path
    # None: the operator's default, a random priority (as the chart's replicas get).
    priority: int | None = 0
    metrics_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        args = [sys.executable, "-m", "tenant_operator", "--peering", RELEASE, "--resync", "2"]
        args += [f"--namespace={ns}" for ns in self.namespaces]
        if self.priority is not None:
            args.append(f"--priority={self.priority}")
        args.append(f"--metrics-port={self.metrics_port}")
        args += [f"--liveness=http://127.0.0.1:{self.health_port}/healthz", "--job-ttl=3600"]
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.healthy():
                return self
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.2)
        raise AssertionError(
            f"the operator did not become healthy:\n{self.log.read_text()[-3000:]}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.health_port}/healthz", timeout=1
            ) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
        ) as r:
            return str(r.read().decode())

    def kill(self) -> None:
        """Stop it the hard way (no cleanup), as a crashed or evicted pod would."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def tenant_migration(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "tenantops.dev/v1alpha1",
        "kind": "TenantMigration",
        "metadata": {"name": name},
        "spec": {"image": "example-app:dev", **spec},
    }


def migrate_jobs(cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    jobs = cluster.get(
        "jobs", "-n", namespace, "-l", f"tenantops.dev/migration={name},tenantops.dev/role=migrate"
    )
    return list(jobs["items"])


def status_of(cluster: Any, namespace: str, name: str) -> dict[str, Any]:
    return dict(cluster.get("tm", name, "-n", namespace).get("status") or {})


def wait_phase(
    cluster: Any, namespace: str, name: str, *phases: str, timeout: float = 90
) -> dict[str, Any]:
    return dict(
        cluster.wait_until(
            lambda: (s := status_of(cluster, namespace, name)).get("phase") in phases and s,
            timeout=timeout,
            what=f"{namespace}/{name} in phase {phases}",
        )
    )


def events_of(cluster: Any, namespace: str, name: str) -> list[dict[str, Any]]:
    events = cluster.get(
        "events", "-n", namespace, "--field-selector", f"involvedObject.name={name}"
    )
    return list(events["items"])
