"""devcluster behaves like a real cluster for what the operator relies on.

Each test talks to the real kube-apiserver and kube-controller-manager; pods run as local
processes through the node agent.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devcluster import versions

if TYPE_CHECKING:
    from tests.e2e.conftest import DevCluster

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def namespace(devcluster: DevCluster) -> str:
    """A fresh namespace per test."""
    return devcluster.create_namespace(f"t-{uuid.uuid4().hex[:8]}")


def job(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A Job running ``sh -c script`` once (``spec`` goes into the Job's spec)."""
    pod_spec = spec.pop("pod_spec", {})
    container = {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
    container |= pod_spec.pop("container", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container], **pod_spec}},
            **spec,
        },
    }


def run_job(devcluster: DevCluster, namespace: str, manifest: dict[str, Any]) -> None:
    manifest["metadata"]["namespace"] = namespace
    devcluster.apply(manifest)


def job_condition(devcluster: DevCluster, namespace: str, name: str) -> dict[str, Any] | None:
    """The Job's Complete or Failed condition once it has one."""
    status = devcluster.get("job", name, "-n", namespace).get("status", {})
    for condition in status.get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return condition
    return None


def wait_finished(devcluster: DevCluster, namespace: str, name: str, timeout: float = 60) -> Any:
    return devcluster.wait_until(
        lambda: job_condition(devcluster, namespace, name), timeout, f"job {name} to finish"
    )


def pods_of(devcluster: DevCluster, namespace: str, job_name: str) -> list[dict[str, Any]]:
    return devcluster.get("pods", "-n", namespace, "-l", f"job-name={job_name}")["items"]


def test_job_whose_command_exits_zero_completes(devcluster: DevCluster, namespace: str) -> None:
    run_job(devcluster, namespace, job("ok", "echo fine; exit 0"))
    condition = wait_finished(devcluster, namespace, "ok")
    assert condition["type"] == "Complete"
    (pod,) = pods_of(devcluster, namespace, "ok")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0
    assert terminated["reason"] == "Completed"


def test_job_exiting_3_with_no_retries_fails(devcluster: DevCluster, namespace: str) -> None:
    run_job(devcluster, namespace, job("bad", "exit 3"))
    condition = wait_finished(devcluster, namespace, "bad")
    assert condition["type"] == "Failed"
    assert condition["reason"] == "BackoffLimitExceeded"
    (pod,) = pods_of(devcluster, namespace, "bad")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


POD_FAILURE_POLICY = {
    "rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                              "values": [3, 5, 6]}},
    ]
}  # fmt: skip


def test_pod_failure_policy_fails_job_at_once_on_permanent_exit_code(
    devcluster: DevCluster, namespace: str
) -> None:
    manifest = job("permanent", "exit 3", backoffLimit=3, podFailurePolicy=POD_FAILURE_POLICY)
    run_job(devcluster, namespace, manifest)
    condition = wait_finished(devcluster, namespace, "permanent")
    assert condition["type"] == "Failed"
    assert condition["reason"] == "PodFailurePolicy"
    assert len(pods_of(devcluster, namespace, "permanent")) == 1


def test_pod_failure_policy_retries_other_exit_codes(
    devcluster: DevCluster, namespace: str
) -> None:
    manifest = job("transient", "exit 4", backoffLimit=1, podFailurePolicy=POD_FAILURE_POLICY)
    run_job(devcluster, namespace, manifest)
    # The Job controller waits ~10s before the retry.
    condition = wait_finished(devcluster, namespace, "transient", timeout=90)
    assert condition["type"] == "Failed"
    assert condition["reason"] == "BackoffLimitExceeded"
    assert devcluster.get("job", "transient", "-n", namespace)["status"]["failed"] == 2
    assert len(pods_of(devcluster, namespace, "transient")) == 2


def _process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _running_pid(devcluster: DevCluster, namespace: str, job_name: str) -> int | None:
    """The local pid of the Job's running container (the node agent's containerID)."""
    for pod in pods_of(devcluster, namespace, job_name):
        for status in pod.get("status", {}).get("containerStatuses", []):
            if "running" in status["state"] and "containerID" in status:
                return int(status["containerID"].removeprefix("devcluster://"))
    return None


def test_deleting_job_in_foreground_removes_pods_and_kills_process(
    devcluster: DevCluster, namespace: str
) -> None:
    run_job(devcluster, namespace, job("sleeper", "exec sleep 300"))
    pid = devcluster.wait_until(
        lambda: _running_pid(devcluster, namespace, "sleeper"), what="the sleeper pod to run"
    )
    assert _process_alive(pid)
    devcluster.kubectl(
        "delete", "job", "sleeper", "-n", namespace, "--cascade=foreground", "--timeout=60s"
    )
    devcluster.wait_until(
        lambda: not pods_of(devcluster, namespace, "sleeper"), what="the pod to be removed"
    )
    devcluster.wait_until(lambda: not _process_alive(pid), 10, "the process to be killed")


def test_job_deadline_fails_job_and_kills_its_process(
    devcluster: DevCluster, namespace: str
) -> None:
    run_job(devcluster, namespace, job("late", "exec sleep 300", activeDeadlineSeconds=3))
    pid = devcluster.wait_until(lambda: _running_pid(devcluster, namespace, "late"))
    condition = wait_finished(devcluster, namespace, "late", timeout=30)
    assert condition["type"] == "Failed"
    assert condition["reason"] == "DeadlineExceeded"
    devcluster.wait_until(lambda: not _process_alive(pid), 40, "the process to be killed")


def test_finished_job_is_deleted_after_its_ttl(devcluster: DevCluster, namespace: str) -> None:
    run_job(devcluster, namespace, job("brief", "true", ttlSecondsAfterFinished=0))
    devcluster.wait_until(
        lambda: (
            devcluster.kubectl("get", "job", "brief", "-n", namespace, check=False).returncode != 0
        ),
        30,
        "the ttl-after-finished controller to delete the Job",
    )


def test_kubectl_logs_shows_pod_output(devcluster: DevCluster, namespace: str) -> None:
    run_job(devcluster, namespace, job("talker", "echo line one; echo line two >&2"))
    wait_finished(devcluster, namespace, "talker")
    logs = devcluster.kubectl("logs", "-n", namespace, "job/talker").stdout
    assert logs.splitlines() == ["line one", "line two"]
    tail = devcluster.kubectl("logs", "-n", namespace, "job/talker", "--tail=1").stdout
    assert tail.splitlines() == ["line two"]


def test_kubectl_logs_follow_streams_until_the_container_exits(
    devcluster: DevCluster, namespace: str
) -> None:
    run_job(devcluster, namespace, job("ticker", "for i in 1 2 3; do echo tick $i; sleep 1; done"))
    devcluster.wait_until(
        lambda: any(
            "running" in s["state"]
            for p in pods_of(devcluster, namespace, "ticker")
            for s in p.get("status", {}).get("containerStatuses", [])
        ),
        what="the ticker pod to run",
    )
    followed = devcluster.kubectl("logs", "-f", "-n", namespace, "job/ticker", timeout=30)
    assert followed.stdout.splitlines() == ["tick 1", "tick 2", "tick 3"]


def test_termination_message_file_becomes_terminated_message(
    devcluster: DevCluster, namespace: str
) -> None:
    script = 'printf \'{"tenant": "acme"}\' > "$TENANT_MIGRATE_REPORT"; exit 5'
    run_job(devcluster, namespace, job("report", script))
    wait_finished(devcluster, namespace, "report")
    (pod,) = pods_of(devcluster, namespace, "report")
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 5
    assert json.loads(terminated["message"]) == {"tenant": "acme"}


def test_report_file_argument_at_termination_path_is_redirected(
    devcluster: DevCluster, namespace: str
) -> None:
    manifest = job("argpath", 'echo done > "$0"')
    manifest["spec"]["template"]["spec"]["containers"][0]["args"] = ["/dev/termination-log"]
    run_job(devcluster, namespace, manifest)
    assert wait_finished(devcluster, namespace, "argpath")["type"] == "Complete"
    (pod,) = pods_of(devcluster, namespace, "argpath")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"] == "done\n"


def test_pod_env_resolves_secrets_and_config_maps(devcluster: DevCluster, namespace: str) -> None:
    devcluster.kubectl("create", "secret", "generic", "db", "-n", namespace,
                       "--from-literal=PASSWORD=s3cret", "--from-literal=USER=app")  # fmt: skip
    devcluster.kubectl("create", "configmap", "settings", "-n", namespace,
                       "--from-literal=MODE=fast")  # fmt: skip
    container = {
        "env": [
            {"name": "GREETING", "value": "hi"},
            {"name": "DB_PASSWORD",
             "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}},
            {"name": "POD_NAMESPACE",
             "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "db"},
                                                             "prefix": "DB_"}],
    }  # fmt: skip
    script = 'echo "$GREETING $DB_PASSWORD $DB_USER $MODE $POD_NAMESPACE"'
    run_job(devcluster, namespace, job("envy", script, pod_spec={"container": container}))
    assert wait_finished(devcluster, namespace, "envy")["type"] == "Complete"
    logs = devcluster.kubectl("logs", "-n", namespace, "job/envy").stdout
    assert logs.strip() == f"hi s3cret app fast {namespace}"


def test_python_in_app_image_runs_in_example_project_with_venv_interpreter(
    devcluster: DevCluster, namespace: str
) -> None:
    script = "import django, os, sys; print(django.VERSION[0], os.getcwd(), sys.prefix)"
    manifest = job("py", "")
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container |= {"image": "registry.example.com/saas-app:1.0", "command": ["python", "-c", script]}
    run_job(devcluster, namespace, manifest)
    assert wait_finished(devcluster, namespace, "py")["type"] == "Complete"
    major, cwd, prefix = devcluster.kubectl("logs", "-n", namespace, "job/py").stdout.split()
    assert int(major) >= 5
    assert cwd == str(REPO / "example")
    assert prefix == str(REPO / ".venv") or Path(prefix).resolve() == (REPO / ".venv").resolve()


def test_pod_active_deadline_kills_process(devcluster: DevCluster, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "slow", "namespace": namespace},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 2,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "300"]}],
        },
    }
    devcluster.apply(pod)

    def failed() -> dict[str, Any] | None:
        status = devcluster.get("pod", "slow", "-n", namespace)["status"]
        return status if status.get("phase") == "Failed" else None

    status = devcluster.wait_until(failed, 30, "the pod to pass its deadline")
    assert status["reason"] == "DeadlineExceeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143


def _api_status(devcluster: DevCluster, path: str, token: str) -> int:
    context = ssl.create_default_context(cafile=str(devcluster.ca_file))
    request = urllib.request.Request(
        devcluster.server + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_service_account_without_role_binding_is_refused(
    devcluster: DevCluster, namespace: str
) -> None:
    devcluster.kubectl("create", "serviceaccount", "reader", "-n", namespace)
    token = devcluster.kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    path = f"/api/v1/namespaces/{namespace}/pods"
    assert _api_status(devcluster, path, token) == 403

    devcluster.kubectl("create", "role", "pod-reader", "-n", namespace,
                       "--verb=list", "--resource=pods")  # fmt: skip
    devcluster.kubectl("create", "rolebinding", "reader", "-n", namespace,
                       "--role=pod-reader", f"--serviceaccount={namespace}:reader")  # fmt: skip
    devcluster.wait_until(lambda: _api_status(devcluster, path, token) == 200, 10, "RBAC to allow")


def test_service_account_kubeconfig_is_bound_by_rbac(
    devcluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    devcluster.kubectl("create", "serviceaccount", "op", "-n", namespace)
    config = devcluster.service_account_kubeconfig(namespace, "op", tmp_path / "op.kubeconfig")
    denied = devcluster.kubectl("--kubeconfig", str(config), "get", "jobs", check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr
    assert f"system:serviceaccount:{namespace}:op" in denied.stderr


def test_pod_violating_restricted_pod_security_is_refused(devcluster: DevCluster) -> None:
    namespace = devcluster.create_namespace(
        f"restricted-{uuid.uuid4().hex[:6]}",
        {"pod-security.kubernetes.io/enforce": "restricted"},
    )
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": namespace}}
    container = {"name": "main", "image": "busybox", "command": ["true"]}
    loose = base | {"spec": {"restartPolicy": "Never", "containers": [container]}}
    loose["metadata"] = {"namespace": namespace, "name": "loose"}
    result = devcluster.kubectl("apply", "-f", "-", input=json.dumps(loose), check=False)
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr

    hardened = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    strict = base | {
        "spec": {
            "restartPolicy": "Never",
            "containers": [container | {"securityContext": hardened}],
        }
    }
    strict["metadata"] = {"namespace": namespace, "name": "strict"}
    devcluster.apply(strict)


def test_server_reports_pinned_kubernetes_version(devcluster: DevCluster) -> None:
    reported = json.loads(devcluster.kubectl("version", "-o", "json").stdout)
    assert reported["serverVersion"]["gitVersion"] == versions.KUBERNETES
    assert reported["clientVersion"]["gitVersion"] == versions.KUBERNETES


def test_helm_installs_chart_whose_kube_version_constraint_matches(
    devcluster: DevCluster, namespace: str, tmp_path: Path
) -> None:
    minor = int(versions.KUBERNETES.split(".")[1])
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: probe\nversion: 0.1.0\n"
        f'kubeVersion: ">=1.{minor}.0-0 <1.{minor + 1}.0-0"\n'
    )
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n"
        "data:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    devcluster.helm("install", "probe", str(chart), "-n", namespace, "--wait")
    configmap = devcluster.get("configmap", "probe", "-n", namespace)
    assert configmap["data"]["kube"] == versions.KUBERNETES

    (chart / "Chart.yaml").write_text(
        'apiVersion: v2\nname: probe\nversion: 0.1.0\nkubeVersion: "<1.20.0-0"\n'
    )
    refused = devcluster.helm("install", "old", str(chart), "-n", namespace, check=False)
    assert refused.returncode != 0
    assert "kubeVersion" in refused.stderr or "incompatible" in refused.stderr


def test_down_stops_exactly_the_processes_up_started(tmp_path: Path) -> None:
    state = tmp_path / "cluster"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devcluster", *args, "--state-dir", str(state)],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    try:
        up = run("up")
        assert up.returncode == 0, up.stderr
        assert f"export KUBECONFIG={state / 'kubeconfig'}" in up.stdout
        recorded = json.loads((state / "cluster.json").read_text())["processes"]
        assert [p["name"] for p in recorded] == [
            "etcd", "kube-apiserver", "kube-controller-manager", "node-agent",
        ]  # fmt: skip
        assert run("status").returncode == 0
        assert "already runs" in run("up").stderr

        down = run("down")
        assert "stopped: node-agent, kube-controller-manager, kube-apiserver, etcd" in down.stdout
        assert not any(_process_alive(p["pid"]) for p in recorded)
        assert run("status").returncode == 1
    finally:
        run("down")  # `up` detaches its processes: never leave them behind on a failure
