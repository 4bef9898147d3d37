"""Start and stop one devcluster: etcd, kube-apiserver, kube-controller-manager, node agent.

Everything listens on 127.0.0.1 on free ports, with certificates generated at start. The state
directory holds the certificates, the admin kubeconfig, each process's log, etcd's data, the
node agent's per-pod files and ``cluster.json`` (ports and the pid of every process started), which
``down`` and ``status`` read.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devcluster import builder, certs, versions
from devcluster.kubeclient import ApiError, KubeClient
from devcluster.processes import Recorded, is_running, spawn, stop

NODE_NAME = "devnode"
SERVICE_CIDR = "10.0.0.0/24"
#: Controllers the Job rollouts need; see the "devcluster" section of DESIGN.md.
CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "namespace-controller",
    "root-ca-certificate-publisher-controller",
)
STATE_FILE = "cluster.json"


def default_state_dir() -> Path:
    """Return the state directory used when none is given: ``.devcluster/`` in the repository.

    It is git-ignored; ``export KUBECONFIG=.devcluster/kubeconfig`` is easy to type.
    """
    return Path(__file__).resolve().parent.parent / ".devcluster"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClusterError(RuntimeError):
    """The cluster could not be started; the message says which process and where its log is."""


@dataclass
class ControlPlane:
    """One devcluster in one state directory."""

    state_dir: Path
    image_map: list[str] = field(default_factory=list)
    passthrough_env: list[str] = field(default_factory=list)
    die_with_parent: bool = False
    records: list[Recorded] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def kubeconfig(self) -> Path:
        """Path of the admin kubeconfig."""
        return self.state_dir / "kubeconfig"

    @property
    def server(self) -> str:
        """URL of the API server."""
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def pki_dir(self) -> Path:
        """Directory of the certificates and keys."""
        return self.state_dir / "pki"

    def admin_client(self) -> KubeClient:
        """Return a REST client authenticated as the cluster admin."""
        return KubeClient(
            self.server,
            self.pki_dir / "ca.crt",
            self.pki_dir / "admin.crt",
            self.pki_dir / "admin.key",
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 60) -> float:
        """Start every process and wait until the cluster can run pods; return the seconds taken.

        Raises ClusterError (after stopping what it started) when a process fails to come up.
        """
        started = time.monotonic()
        if self.load() and any(is_running(r) for r in self.records):
            raise ClusterError(
                f"a devcluster already runs from {self.state_dir}; stop it with "
                f"`python -m devcluster down --state-dir {self.state_dir}` first"
            )
        missing = builder.missing_binaries()
        if missing:
            raise ClusterError(
                f"devcluster binaries missing ({', '.join(missing)}): run `python -m devcluster "
                "build` (or `make binaries`) first"
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Every `up` is a fresh cluster: new keys make old tokens and data meaningless.
        for stale in ("etcd", "pods", "logs"):
            shutil.rmtree(self.state_dir / stale, ignore_errors=True)
        self.records = []
        self.ports = {name: free_port() for name in ("etcd", "etcd_peer", "apiserver", "kubelet")}
        pki = certs.generate_pki(self.pki_dir, NODE_NAME)
        self._write_kubeconfig(self.kubeconfig, pki.admin, "devcluster-admin")
        self._write_kubeconfig(
            self.state_dir / "controller-manager.kubeconfig",
            pki.controller_manager,
            "system:kube-controller-manager",
        )
        try:
            self._start_etcd()
            self._start_apiserver(pki)
            self._wait_ready(timeout - (time.monotonic() - started))
            self._start_controller_manager()
            self._start_node_agent()
            self._wait_default_service_account(timeout - (time.monotonic() - started))
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - started

    def stop(self) -> list[str]:
        """Stop the recorded processes in reverse order; return the names that were running."""
        if not self.records:
            self.load()
        stopped = [r.name for r in reversed(self.records) if stop(r)]
        self.records = []
        self._save()
        return stopped

    def status(self) -> dict[str, bool]:
        """Return each recorded process's name and whether it still runs."""
        self.load()
        return {r.name: is_running(r) for r in self.records}

    def load(self) -> bool:
        """Read ports and process records from the state directory; False when there are none."""
        path = self.state_dir / STATE_FILE
        if not path.is_file():
            return False
        data = json.loads(path.read_text())
        self.ports = data["ports"]
        self.records = [Recorded(**r) for r in data["processes"]]
        return True

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "server": self.server if "apiserver" in self.ports else None,
            "kubeconfig": str(self.kubeconfig),
            "ports": self.ports,
            "processes": [r.to_json() for r in self.records],
        }
        (self.state_dir / STATE_FILE).write_text(json.dumps(data, indent=2) + "\n")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        proc, record = spawn(
            name,
            argv,
            self.state_dir / "logs" / f"{name}.log",
            env=env,
            die_with_parent=self.die_with_parent,
        )
        del proc
        self.records.append(record)
        self._save()

    def _check_alive(self) -> None:
        for record in self.records:
            if not is_running(record):
                log = self.state_dir / "logs" / f"{record.name}.log"
                tail = "".join(log.read_text(errors="replace").splitlines(True)[-25:])
                raise ClusterError(
                    f"{record.name} exited during start-up; its log ({log}):\n{tail}"
                )

    # -- processes -------------------------------------------------------------------------

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd_peer']}"
        self._spawn(
            "etcd",
            [
                str(builder.binary_path("etcd")),
                "--name=devcluster",
                f"--data-dir={self.state_dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=devcluster={peer}",
                # A throw-away cluster: durability is not worth the fsync latency.
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self, pki: certs.Pki) -> None:
        self._spawn(
            "kube-apiserver",
            [
                str(builder.binary_path("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports['apiserver']}",
                f"--tls-cert-file={pki.apiserver.cert}",
                f"--tls-private-key-file={pki.apiserver.key}",
                f"--client-ca-file={pki.ca.cert}",
                "--authorization-mode=RBAC",
                "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,"
                "PodSecurity,DefaultTolerationSeconds,ResourceQuota,"
                "MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # The kubelet log endpoint is the node agent's, on 127.0.0.1 with our CA.
                "--kubelet-preferred-address-types=InternalIP",
                f"--kubelet-certificate-authority={pki.ca.cert}",
                f"--kubelet-client-certificate={pki.kubelet_client.cert}",
                f"--kubelet-client-key={pki.kubelet_client.key}",
                # A loopback endpoint for the `kubernetes` Service would be rejected; nothing
                # in the cluster needs it.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=false",
                "--profiling=false",
                "--v=0",
            ],
        )

    def _start_controller_manager(self) -> None:
        self._spawn(
            "kube-controller-manager",
            [
                str(builder.binary_path("kube-controller-manager")),
                f"--kubeconfig={self.state_dir / 'controller-manager.kubeconfig'}",
                # No listener at all: it needs none, and so nothing binds beyond 127.0.0.1.
                "--secure-port=0",
                "--bind-address=127.0.0.1",
                f"--controllers={','.join(CONTROLLERS)}",
                f"--service-account-private-key-file={self.pki_dir / 'sa.key'}",
                f"--root-ca-file={self.pki_dir / 'ca.crt'}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--v=0",
            ],
        )

    def _start_node_agent(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "devcluster.node_agent",
            f"--state-dir={self.state_dir}",
            f"--server={self.server}",
            f"--node-name={NODE_NAME}",
            f"--port={self.ports['kubelet']}",
        ]
        argv += [f"--image-map={m}" for m in self.image_map]
        argv += [f"--passthrough-env={e}" for e in self.passthrough_env]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH")])
        )
        self._spawn("node-agent", argv, env=env)

    # -- waiting ---------------------------------------------------------------------------

    def _wait_ready(self, timeout: float) -> None:
        client = self.admin_client()
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                client.request("GET", "/readyz", timeout=5)
                return
            except (OSError, ApiError, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise ClusterError(f"kube-apiserver was not ready within {timeout:.0f}s: {last_error}")

    def _wait_default_service_account(self, timeout: float) -> None:
        # Pods are refused until their namespace has its `default` ServiceAccount, and the node
        # must be registered before pods can run: wait for both so `up` means "ready for Jobs".
        client = self.admin_client()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                client.get("/api/v1/namespaces/default/serviceaccounts/default")
                client.get(f"/api/v1/nodes/{NODE_NAME}")
                return
            except (OSError, ApiError):
                time.sleep(0.2)
        raise ClusterError(
            f"the default ServiceAccount or node {NODE_NAME} did not appear within the timeout; "
            f"see the logs in {self.state_dir / 'logs'}"
        )

    def _write_kubeconfig(self, path: Path, pair: certs.KeyPair, user: str) -> None:
        def b64(p: Path) -> str:
            return base64.b64encode(p.read_bytes()).decode()

        write_kubeconfig(
            path,
            self.server,
            {"certificate-authority-data": b64(self.pki_dir / "ca.crt")},
            user,
            {"client-certificate-data": b64(pair.cert), "client-key-data": b64(pair.key)},
        )

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the cached kubectl against this cluster and return the completed process."""
        return subprocess.run(
            [str(builder.binary_path("kubectl")), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )


def write_kubeconfig(
    path: Path,
    server: str,
    ca: dict[str, str],
    user: str,
    credentials: dict[str, str],
    namespace: str | None = None,
) -> Path:
    """Write a kubeconfig for one user of a devcluster (readable by its owner only); return it.

    ``ca`` is the cluster's ``certificate-authority`` or ``certificate-authority-data`` entry,
    ``credentials`` the user's client certificate and key or token.
    """
    context = {"cluster": "devcluster", "user": user}
    if namespace is not None:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "devcluster", "cluster": {"server": server, **ca}}],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "devcluster", "context": context}],
        "current-context": "devcluster",
    }
    # JSON is valid YAML: kubectl, client-go and the Python client all read it.
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


def version_banner() -> str:
    """Return a one-line description of the pinned versions."""
    return f"Kubernetes {versions.KUBERNETES}, etcd {versions.ETCD}, helm {versions.HELM}"
