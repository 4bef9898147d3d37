"""The node agent: a stand-in for kubelet and the container runtime on one devcluster Node.

It registers the Node (address 127.0.0.1, its log endpoint as the kubelet endpoint), binds every
pending pod to itself (there is no scheduler), runs the pods bound to it as local processes (one
PodWorker each, see pod_worker.py) and serves their logs (log_server.py). Run it through
``python -m devcluster up``; ``python -m devcluster.node_agent --help`` lists its options.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from devcluster import pod_env, versions
from devcluster.kubeclient import ApiError, KubeClient
from devcluster.log_server import serve_logs
from devcluster.pod_worker import (
    DEFAULT_GRACE_SECONDS,
    AgentConfig,
    PodWorker,
    delete_pod_now,
    now_rfc3339,
)

TERMINAL = ("Succeeded", "Failed")


class NodeAgent:
    """Registers the node, binds and runs pods, and keeps their workers."""

    def __init__(self, config: AgentConfig, port: int) -> None:
        self.config = config
        self.client = config.client
        self.port = port
        self.workers: dict[str, PodWorker] = {}
        self.by_name: dict[tuple[str, str], PodWorker] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # -- the node --------------------------------------------------------------------------

    def register_node(self) -> None:
        """Create (or take over) the Node object and report it Ready."""
        name = self.config.node_name
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node.tenantops.dev/devcluster": "true",
                },
            },
        }
        try:
            self.client.post("/api/v1/nodes", node)
        except ApiError as exc:
            if exc.status != 409:
                raise
        stamp = now_rfc3339()
        capacity = {"cpu": "8", "memory": "32Gi", "pods": "250", "ephemeral-storage": "100Gi"}
        status = {
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "devcluster node agent is running pods as local processes",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "nodeInfo": {
                "kubeletVersion": versions.KUBERNETES,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "devcluster://local-process",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "osImage": "devcluster",
                "kernelVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }
        self.client.merge_patch(f"/api/v1/nodes/{name}/status", {"status": status})

    # -- pods ------------------------------------------------------------------------------

    def reconcile(self, pod: dict[str, Any], deleted: bool = False) -> None:
        """Act on one observed pod: bind it, start it, or stop it."""
        meta, spec = pod["metadata"], pod["spec"]
        uid = meta["uid"]
        phase = pod.get("status", {}).get("phase", "Pending")
        deleting = deleted or bool(meta.get("deletionTimestamp"))
        node = spec.get("nodeName")
        if not node:
            if not deleting and phase not in TERMINAL:
                self._bind(pod)
            return
        if node != self.config.node_name:
            return
        with self.lock:
            worker = self.workers.get(uid)
        if worker is not None:
            if deleting:
                grace = meta.get("deletionGracePeriodSeconds")
                worker.request_stop(float(grace if grace is not None else DEFAULT_GRACE_SECONDS))
            return
        if deleting:
            if not deleted and phase not in TERMINAL:
                delete_pod_now(self.client, meta["namespace"], meta["name"], uid)
            return
        if phase == "Pending":
            self._start(pod)
        elif phase == "Running":
            self._mark_lost(pod)

    def _bind(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.config.node_name},
        }
        try:
            self.client.post(
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/binding", body
            )
        except ApiError as exc:
            if exc.status not in (404, 409):  # gone, or bound already
                raise

    def _start(self, pod: dict[str, Any]) -> None:
        worker = PodWorker(pod, self.config)
        with self.lock:
            self.workers[worker.uid] = worker
            self.by_name[(worker.namespace, worker.name)] = worker
        print(f"starting pod {worker.namespace}/{worker.name}", flush=True)
        worker.start()

    def _mark_lost(self, pod: dict[str, Any]) -> None:
        # A Running pod this agent never started belongs to a previous agent whose processes
        # died with it: report it failed rather than run it a second time.
        meta = pod["metadata"]
        status = {
            "phase": "Failed",
            "reason": "NodeAgentRestarted",
            "message": "the devcluster node agent restarted; the pod's processes were lost",
        }
        self.client.merge_patch(
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
            {"status": status},
        )

    def log_lookup(self, namespace: str, pod: str, container: str) -> Any:
        """Find the log of a container for the log server."""
        with self.lock:
            worker = self.by_name.get((namespace, pod))
        return worker.log_for(container) if worker else None

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """List and watch all pods until stopped, reconciling each one seen."""
        while not self.stopping.is_set():
            try:
                listing = self.client.get("/api/v1/pods")
                for pod in listing["items"]:
                    self._safely(pod)
                version = listing["metadata"]["resourceVersion"]
                while not self.stopping.is_set():
                    for event in self.client.watch("/api/v1/pods", version, timeout_seconds=60):
                        obj = event["object"]
                        if event["type"] == "ERROR":
                            raise ApiError(int(obj.get("code", 500)), str(obj), "WATCH", "pods")
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] != "BOOKMARK":
                            self._safely(obj, deleted=event["type"] == "DELETED")
            except (OSError, ApiError, ValueError) as exc:
                if not self.stopping.is_set():
                    print(f"pod watch restarts after: {exc}", file=sys.stderr, flush=True)
                    time.sleep(1)

    def _safely(self, pod: dict[str, Any], deleted: bool = False) -> None:
        try:
            self.reconcile(pod, deleted)
        except (OSError, ApiError) as exc:
            meta = pod["metadata"]
            print(f"pod {meta['namespace']}/{meta['name']}: {exc}", file=sys.stderr, flush=True)

    def shutdown(self, grace_seconds: float = 5) -> None:
        """Stop every pod's processes (the agent is going away)."""
        self.stopping.set()
        with self.lock:
            workers = list(self.workers.values())
        for worker in workers:
            worker.request_stop(grace_seconds, ("NodeShutdown", "the devcluster node stopped"))
        for worker in workers:
            worker.done.wait(grace_seconds + 5)


def main(argv: list[str] | None = None) -> int:
    """Run the node agent until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m devcluster.node_agent", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--server", required=True, help="API server URL")
    parser.add_argument("--node-name", default="devnode")
    parser.add_argument("--port", type=int, required=True, help="log endpoint port")
    parser.add_argument(
        "--image-map",
        action="append",
        default=[],
        metavar="PATTERN=DIR",
        help="run images matching the glob PATTERN in DIR (first match wins; the default "
        f"rule {pod_env.DEFAULT_IMAGE_MAP[0]} always comes last)",
    )
    parser.add_argument(
        "--passthrough-env",
        action="append",
        default=[],
        metavar="NAME",
        help="copy this variable of the agent's environment into every container",
    )
    args = parser.parse_args(argv)
    pki = args.state_dir / "pki"
    client = KubeClient(args.server, pki / "ca.crt", pki / "admin.crt", pki / "admin.key")
    rules = [pod_env.ImageRule.parse(r) for r in [*args.image_map, *pod_env.DEFAULT_IMAGE_MAP]]
    port = int(args.server.rsplit(":", 1)[1])
    config = AgentConfig(
        client, args.node_name, args.state_dir / "pods", rules, args.passthrough_env, port
    )
    agent = NodeAgent(config, args.port)
    serve_logs(args.port, pki / "node-serving.crt", pki / "node-serving.key", pki / "ca.crt",
               agent.log_lookup)  # fmt: skip
    agent.register_node()

    def on_signal(signum: int, frame: object) -> None:
        del frame
        agent.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"node {args.node_name} ready; logs served on 127.0.0.1:{args.port}", flush=True)
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
