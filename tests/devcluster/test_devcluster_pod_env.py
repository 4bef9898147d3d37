"""How the node agent turns a container into a process, without a cluster."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devcluster import builder, pod_env, processes, versions

POD: dict[str, Any] = {
    "metadata": {"name": "job-x", "namespace": "saas", "uid": "u1", "labels": {"app": "mig"}},
    "spec": {"nodeName": "devnode", "serviceAccountName": "default", "containers": []},
}

OBJECTS = {
    ("Secret", "saas", "db"): {"PASSWORD": "s3cret", "USER": "app"},
    ("ConfigMap", "saas", "settings"): {"MODE": "fast"},
}


def read(kind: str, namespace: str, name: str) -> dict[str, str] | None:
    return OBJECTS.get((kind, namespace, name))


def test_env_resolves_secret_config_map_and_field_refs_with_later_entries_winning() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "settings"}}, {"secretRef": {"name": "db"},
                                                             "prefix": "DB_"}],
        "env": [
            {"name": "MODE", "value": "slow"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "URL", "value": "postgres://$(DB_USER)@db/$(NS)"},
        ],
    }  # fmt: skip
    env = pod_env.container_env(POD, container, {"HOME": "/root"}, read)
    assert env["MODE"] == "slow"
    assert env["DB_PASSWORD"] == "s3cret"
    assert env["PW"] == "s3cret"
    assert env["NS"] == "saas"
    assert env["APP"] == "mig"
    assert env["URL"] == "postgres://app@db/saas"
    assert env["HOME"] == "/root"


def test_missing_secret_is_a_config_error_unless_optional() -> None:
    required = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}]}
    with pytest.raises(pod_env.PodSpecError) as error:
        pod_env.container_env(POD, required, {}, read)
    assert error.value.reason == "CreateContainerConfigError"
    optional = {"envFrom": [{"secretRef": {"name": "nope", "optional": True}}]}
    assert pod_env.container_env(POD, optional, {}, read) == {}


def test_secret_data_is_decoded_from_base64() -> None:
    secret = {"data": {"K": base64.b64encode(b"v\n").decode()}}
    assert pod_env.decode_data(secret, "Secret") == {"K": "v\n"}


def test_python_runs_the_agents_interpreter() -> None:
    container = {"name": "c", "command": ["python", "manage.py"], "args": ["migratetenant"]}
    assert pod_env.container_argv(container, {}) == [sys.executable, "manage.py", "migratetenant"]


def test_container_without_command_is_refused_with_a_hint() -> None:
    with pytest.raises(pod_env.PodSpecError, match="set `command`"):
        pod_env.container_argv({"name": "c", "image": "app"}, {})


def test_image_map_first_match_wins_and_unmatched_images_get_scratch(tmp_path: Path) -> None:
    rules = [pod_env.ImageRule.parse(f"*billing*={tmp_path}/billing")]
    rules += [pod_env.ImageRule.parse(r) for r in pod_env.DEFAULT_IMAGE_MAP]
    assert pod_env.workdir_for("reg/billing-app:1", rules, tmp_path / "s") == tmp_path / "billing"
    assert pod_env.workdir_for("reg/saas-app:1.42", rules, tmp_path / "s") == (
        pod_env.REPO_ROOT / "example"
    )
    assert pod_env.workdir_for("busybox", rules, tmp_path / "s") == tmp_path / "s"


def test_termination_path_in_args_and_env_is_redirected_to_local_file(tmp_path: Path) -> None:
    local = tmp_path / "main.termination-log"
    env = {"REPORT": "/dev/termination-log"}
    argv = pod_env.redirect_termination_path(
        {"name": "main"}, ["x", "--report-file", "/dev/termination-log"], env, local
    )
    assert argv == ["x", "--report-file", str(local)]
    assert env["REPORT"] == env["TENANT_MIGRATE_REPORT"] == str(local)


def test_stop_leaves_a_pid_with_another_start_time_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        started = processes.start_time_of(proc.pid)
        assert started is not None
        impostor = processes.Recorded("sleep", proc.pid, started + 1)
        assert not processes.stop(impostor)
        assert proc.poll() is None
        record = processes.Recorded("sleep", proc.pid, started)
        assert processes.stop(record, grace_seconds=5)
        assert not processes.is_running(record)
    finally:
        proc.kill()


def test_wrapper_modules_agree_with_pinned_versions() -> None:
    builder.check_pins()
    assert versions.staging_version("v1.35.4") == "v0.35.4"
    assert versions.KUBERNETES in versions.cache_key()
