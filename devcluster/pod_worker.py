"""Run one pod's containers as local processes and report them in the pod's status.

A PodWorker does for one pod what kubelet and the container runtime do: start the init
containers one by one and then the containers, keep each one's output, enforce the pod's
``activeDeadlineSeconds``, kill the processes when the pod is deleted (SIGTERM, then SIGKILL
after the grace period), and patch ``status`` so controllers see Running, then Succeeded or
Failed with each container's exit code, reason, message and times.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devcluster import pod_env
from devcluster.kubeclient import ApiError, KubeClient
from devcluster.processes import parent_death_signal

MAX_MESSAGE_BYTES = 4096
FALLBACK_LOG_LINES = 80
DEFAULT_GRACE_SECONDS = 30


def now_rfc3339() -> str:
    """Return the current UTC time as Kubernetes writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_rfc3339(text: str) -> float:
    """Return the epoch seconds of a Kubernetes timestamp."""
    return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))


@dataclass
class AgentConfig:
    """What every PodWorker of one node agent shares."""

    client: KubeClient
    node_name: str
    pods_dir: Path
    image_rules: list[pod_env.ImageRule]
    passthrough_env: list[str]
    api_port: int | None


@dataclass
class ContainerRun:
    """One container's process and what the pod status says about it."""

    spec: dict[str, Any]
    log_file: Path
    message_file: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: str | None = None
    restart_count: int = 0
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "Pending"}})

    @property
    def running(self) -> bool:
        """Tell whether the process is still running."""
        return self.proc is not None and self.proc.poll() is None


class PodWorker:
    """Runs one pod on a thread of its own; see the module docstring."""

    def __init__(self, pod: dict[str, Any], config: AgentConfig) -> None:
        self.pod = pod
        self.config = config
        meta = pod["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.dir = config.pods_dir / f"{self.namespace}_{self.name}_{self.uid}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.runs: dict[str, ContainerRun] = {}
        for c in [*pod["spec"].get("initContainers", []), *pod["spec"]["containers"]]:
            self.runs[c["name"]] = ContainerRun(
                c, self.dir / f"{c['name']}.log", self.dir / f"{c['name']}.termination-log"
            )
        self.init_names = [c["name"] for c in pod["spec"].get("initContainers", [])]
        self.main_names = [c["name"] for c in pod["spec"]["containers"]]
        self.start_time: str | None = None
        self.stop_requested = threading.Event()
        self.stop_grace: float = DEFAULT_GRACE_SECONDS
        self.stop_reason: tuple[str, str] | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.name}", daemon=True)

    # -- control from the agent ------------------------------------------------------------

    def start(self) -> None:
        """Start running the pod on its own thread."""
        self.thread.start()

    def request_stop(self, grace_seconds: float, reason: tuple[str, str] | None = None) -> None:
        """Ask the worker to kill its processes (the pod was deleted or its deadline passed)."""
        if not self.stop_requested.is_set():
            self.stop_grace = grace_seconds
            self.stop_reason = reason
            self.stop_requested.set()

    def log_for(self, container: str) -> tuple[Path, Callable[[], bool]] | None:
        """Return a container's log file and a function telling whether it still runs."""
        run = self.runs.get(container)
        if run is None:
            return None
        return run.log_file, lambda: run.running or (run.proc is None and not self.done.is_set())

    # -- the pod's life --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._run_pod()
        except Exception as exc:  # the pod must end in a phase whatever happens
            self._patch_status("Failed", reason="DevclusterError", message=str(exc))
        finally:
            self.done.set()
            if self.stop_requested.is_set() and self.stop_reason is None:
                self._finalize_deletion()

    def _run_pod(self) -> None:
        self.start_time = now_rfc3339()
        for name in self.init_names:
            if not self._start_container(name):
                self._finish()
                return
            self._wait([name])
            if self._failed(name) or self.stop_requested.is_set():
                self._finish()
                return
        for name in self.main_names:
            if not self._start_container(name):
                break
        self._patch_status("Running")
        self._wait(self.main_names)
        self._finish()

    def _deadline(self) -> float | None:
        seconds = self.pod["spec"].get("activeDeadlineSeconds")
        if seconds is None or self.start_time is None:
            return None
        return parse_rfc3339(self.start_time) + int(seconds)

    def _wait(self, names: list[str]) -> None:
        restart = self.pod["spec"].get("restartPolicy", "Always") != "Never"
        while True:
            for name in names:
                run = self.runs[name]
                if run.proc is not None and not run.running and "running" in run.state:
                    self._record_exit(run)
                    if restart and self._failed(name) and not self.stop_requested.is_set():
                        time.sleep(1)  # kubelet backs off before a restart, too
                        run.restart_count += 1
                        self._start_container(name)
                        self._patch_status("Running")
            if not any(self.runs[n].running for n in names):
                return
            deadline = self._deadline()
            if deadline is not None and time.time() >= deadline:
                self.request_stop(
                    self._grace(),
                    ("DeadlineExceeded", "Pod was active on the node longer than the specified "
                     "deadline"),
                )  # fmt: skip
            if self.stop_requested.wait(0.1):
                self._kill(names)

    def _grace(self) -> float:
        spec_grace = self.pod["spec"].get("terminationGracePeriodSeconds")
        return float(spec_grace if spec_grace is not None else DEFAULT_GRACE_SECONDS)

    def _kill(self, names: list[str]) -> None:
        running = [self.runs[n] for n in names if self.runs[n].running]
        for run in running:
            self._signal(run, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline and any(r.running for r in running):
            time.sleep(0.05)
        for run in running:
            if run.running:
                self._signal(run, signal.SIGKILL)
            if run.proc is not None:
                run.proc.wait()
            self._record_exit(run)

    @staticmethod
    def _signal(run: ContainerRun, sig: int) -> None:
        assert run.proc is not None
        # The container's whole process group, as a runtime kills the whole cgroup.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.proc.pid, sig)

    def _start_container(self, name: str) -> bool:
        """Start one container's process; False (and its state terminated) when it cannot."""
        run = self.runs[name]
        reader = self._read_object
        try:
            base = pod_env.base_env(self.pod, self.config.passthrough_env, self.config.api_port)
            env = pod_env.container_env(self.pod, run.spec, base, reader)
            argv = pod_env.container_argv(run.spec, env)
            argv = pod_env.redirect_termination_path(run.spec, argv, env, run.message_file)
            workdir = pod_env.workdir_for(
                run.spec.get("image", ""), self.config.image_rules, self.dir / "scratch"
            )
        except pod_env.PodSpecError as exc:
            run.state = {
                "terminated": {
                    "exitCode": 128, "reason": exc.reason, "message": str(exc),
                    "startedAt": now_rfc3339(), "finishedAt": now_rfc3339(),
                }
            }  # fmt: skip
            return False
        run.message_file.write_bytes(b"")
        try:
            with run.log_file.open("ab") as log:
                run.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=workdir,
                    start_new_session=True,
                    # The process must not outlive its node agent.
                    preexec_fn=parent_death_signal(signal.SIGKILL),
                )
        except OSError as exc:
            stamp = now_rfc3339()
            run.state = {
                "terminated": {
                    "exitCode": 128, "reason": "StartError", "startedAt": stamp,
                    "finishedAt": stamp, "message": f"cannot start {argv[0]} in {workdir}: {exc}",
                }
            }  # fmt: skip
            return False
        run.started_at = now_rfc3339()
        run.state = {"running": {"startedAt": run.started_at}}
        return True

    def _read_object(self, kind: str, namespace: str, name: str) -> dict[str, str] | None:
        plural = {"Secret": "secrets", "ConfigMap": "configmaps"}[kind]
        try:
            obj = self.config.client.get(f"/api/v1/namespaces/{namespace}/{plural}/{name}")
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return pod_env.decode_data(obj, kind)

    def _record_exit(self, run: ContainerRun) -> None:
        # Only a running container's exit is recorded, once.
        if run.proc is None or run.proc.returncode is None or "running" not in run.state:
            return
        code = run.proc.returncode
        exit_code = code if code >= 0 else 128 - code  # killed by signal N: 128 + N
        reason = "Completed" if exit_code == 0 else "Error"
        message = run.message_file.read_bytes()[:MAX_MESSAGE_BYTES].decode(errors="replace")
        policy = run.spec.get("terminationMessagePolicy", "File")
        if not message and exit_code != 0 and policy == "FallbackToLogsOnError":
            lines = run.log_file.read_bytes().splitlines(keepends=True)[-FALLBACK_LOG_LINES:]
            message = b"".join(lines)[-MAX_MESSAGE_BYTES:].decode(errors="replace")
        terminated: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": run.started_at,
            "finishedAt": now_rfc3339(),
            "containerID": f"devcluster://{run.proc.pid}",
        }
        if exit_code >= 128:
            terminated["signal"] = exit_code - 128
        if message:
            terminated["message"] = message
        run.state = {"terminated": terminated}

    def _failed(self, name: str) -> bool:
        terminated = self.runs[name].state.get("terminated")
        return terminated is not None and terminated["exitCode"] != 0

    def _finish(self) -> None:
        for run in self.runs.values():
            if run.proc is not None:
                run.proc.wait()
                self._record_exit(run)
        ran_main = all("terminated" in self.runs[n].state for n in self.main_names)
        succeeded = ran_main and not any(self._failed(n) for n in self.runs)
        if self.stop_reason is not None:
            reason, message = self.stop_reason
            self._patch_status("Failed", reason=reason, message=message)
        else:
            self._patch_status("Succeeded" if succeeded else "Failed")

    # -- talking to the API server ---------------------------------------------------------

    def _container_status(self, name: str) -> dict[str, Any]:
        run = self.runs[name]
        status: dict[str, Any] = {
            "name": name,
            "image": run.spec.get("image", ""),
            "imageID": f"devcluster://{run.spec.get('image', '')}",
            "ready": run.running,
            "started": run.running,
            "restartCount": run.restart_count,
            "state": run.state,
        }
        if run.proc is not None:
            status["containerID"] = f"devcluster://{run.proc.pid}"
        return status

    def _patch_status(
        self, phase: str, reason: str | None = None, message: str | None = None
    ) -> None:
        ready = "True" if phase == "Running" else "False"
        stamp = now_rfc3339()
        conditions = [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
            {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
            {"type": "ContainersReady", "status": ready, "lastTransitionTime": stamp},
            {"type": "Ready", "status": ready, "lastTransitionTime": stamp},
        ]
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conditions,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.start_time or stamp,
            "initContainerStatuses": [self._container_status(n) for n in self.init_names],
            "containerStatuses": [self._container_status(n) for n in self.main_names],
            "reason": reason,
            "message": message,
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        try:
            self.config.client.merge_patch(path, {"status": status})
        except ApiError as exc:
            if exc.status != 404:  # a pod already gone needs no status
                raise

    def _finalize_deletion(self) -> None:
        # As kubelet does once the containers have stopped.
        delete_pod_now(self.config.client, self.namespace, self.name, self.uid)


def delete_pod_now(client: KubeClient, namespace: str, name: str, uid: str) -> None:
    """Delete a pod for good (grace 0), but only this incarnation of it (the uid precondition).

    A pod already gone (404) or replaced by a namesake (409) is left as it is.
    """
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    body = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
    try:
        client.delete(path, body)
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
