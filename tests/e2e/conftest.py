"""The session-scoped ``devcluster`` fixture: one real Kubernetes control plane per test session.

Use it from any end-to-end test (mark the test ``e2e``)::

    @pytest.mark.e2e
    def test_something(devcluster):
        devcluster.kubectl("apply", "-f", "-", input=manifest)
        env = devcluster.env()            # KUBECONFIG and PATH (kubectl, helm) for subprocesses
        config = devcluster.kubeconfig    # path of the admin kubeconfig

Pods run as local processes (see devcluster/README.md). Before the session starts, these
environment variables shape them:

- ``DEVCLUSTER_IMAGE_MAP``: extra ``PATTERN=DIR`` rules, separated by ``;`` (the default
  ``*app*`` -> ``example/`` rule always applies last);
- ``DEVCLUSTER_PASSTHROUGH_ENV``: names of variables, separated by ``,``, copied from the test
  process into every pod (e.g. a database URL).

Missing binaries are built first (minutes on a cold machine); every process started here dies
with the test session, even when pytest itself is killed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devcluster import builder
from devcluster.controlplane import ControlPlane, write_kubeconfig


@dataclass
class DevCluster:
    """A running devcluster, as tests see it."""

    control_plane: ControlPlane

    @property
    def kubeconfig(self) -> Path:
        """Path of the admin kubeconfig (user in group system:masters)."""
        return self.control_plane.kubeconfig

    @property
    def server(self) -> str:
        """The API server's URL (https://127.0.0.1:PORT)."""
        return self.control_plane.server

    @property
    def state_dir(self) -> Path:
        """The cluster's state directory: pki/, logs/, pods/<ns>_<pod>_<uid>/, kubeconfig."""
        return self.control_plane.state_dir

    @property
    def ca_file(self) -> Path:
        """The cluster CA certificate (to verify the API server)."""
        return self.state_dir / "pki" / "ca.crt"

    @property
    def bin_dir(self) -> Path:
        """Directory holding kubectl, helm and the control-plane binaries."""
        return builder.bin_dir()

    def env(self) -> dict[str, str]:
        """Return an environment for subprocesses: this one plus KUBECONFIG and PATH."""
        path = os.pathsep.join([str(self.bin_dir), os.environ.get("PATH", "")])
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), PATH=path)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster; with ``check`` a failure raises with its stderr."""
        result = self.control_plane.kubectl(*args, input=input, check=False, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def service_account_kubeconfig(self, namespace: str, name: str, path: Path) -> Path:
        """Write a kubeconfig that authenticates as a ServiceAccount (a fresh token); return it.

        Run the operator with it to test the chart's RBAC for real: the admin kubeconfig is in
        ``system:masters``, which RBAC never restricts.
        """
        token = self.kubectl(
            "create", "token", name, "-n", namespace, "--duration=24h"
        ).stdout.strip()
        return write_kubeconfig(
            path,
            self.server,
            {"certificate-authority": str(self.ca_file)},
            name,
            {"token": token},
            namespace=namespace,
        )

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the cached helm against the cluster (a failure raises with its stderr)."""
        result = subprocess.run(
            [str(self.bin_dir / "helm"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def get(self, *args: str) -> dict[str, Any]:
        """Return ``kubectl get ARGS -o json`` decoded."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(self, manifest: dict[str, Any] | str) -> None:
        """``kubectl apply`` a manifest given as a dict or as YAML/JSON text."""
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        self.kubectl("apply", "-f", "-", input=text)

    def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 60, what: str = "condition"
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        """Create a namespace and wait for its default ServiceAccount; return its name."""
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": labels or {}},
            }
        )
        self.wait_until(
            lambda: self.kubectl("get", "sa", "default", "-n", name, check=False).returncode == 0,
            what=f"the default ServiceAccount of namespace {name}",
        )
        return name


@pytest.fixture(scope="session")
def devcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevCluster]:
    """Start one devcluster for the whole session (building its binaries when missing)."""
    if builder.missing_binaries():
        builder.build()
    image_map = [r for r in os.environ.get("DEVCLUSTER_IMAGE_MAP", "").split(";") if r]
    passthrough = [n for n in os.environ.get("DEVCLUSTER_PASSTHROUGH_ENV", "").split(",") if n]
    control_plane = ControlPlane(
        tmp_path_factory.mktemp("devcluster"),
        image_map=image_map,
        passthrough_env=passthrough,
        die_with_parent=True,
    )
    control_plane.start()
    try:
        yield DevCluster(control_plane)
    finally:
        control_plane.stop()
