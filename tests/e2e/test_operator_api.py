"""The API server itself refuses bad TenantMigrations, with a message naming the field."""

from __future__ import annotations

import json

import pytest
import yaml
from operator_harness import REPO, tenant_migration

pytestmark = pytest.mark.e2e
NAMESPACE = "tm-api"


@pytest.fixture(scope="module")
def api(devcluster):
    devcluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "manifests" / "crd.yaml")
    )
    devcluster.kubectl(
        "wait", "--for=condition=Established", "crd/tenantmigrations.tenantops.dev", "--timeout=30s"
    )
    devcluster.create_namespace(NAMESPACE)
    return devcluster


def dry_run(cluster, spec):
    manifest = tenant_migration("bad", spec)
    if "image" in spec and spec["image"] is None:
        del manifest["spec"]["image"]
    return cluster.kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        NAMESPACE,
        "-f",
        "-",
        input=json.dumps(manifest),
        check=False,
    )


IDS = {"ids": ["acme"]}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"image": None, "tenants": IDS}, "spec.image: Required value"),
        ({"tenants": {"ids": ["acme"], "all": True}}, "set exactly one of tenants.ids"),
        ({"tenants": {}}, "set exactly one of tenants.ids"),
        ({"tenants": {"ids": ["Acme_Corp"]}}, "spec.tenants.ids[0]"),
        ({"tenants": {"ids": ["a" * 64]}}, "spec.tenants.ids[0]"),
        (
            {"tenants": {"ids": ["acme"], "exclude": ["dev"]}},
            "exclude only applies with tenants.all",
        ),
        ({"tenants": IDS, "rollout": {"maxConcurrent": 0}}, "spec.rollout.maxConcurrent"),
        (
            {"tenants": IDS, "rollout": {"failurePolicy": "Sometimes"}},
            'supported values: "Halt", "Continue"',
        ),
        ({"tenants": IDS, "rollout": {"interval": "5 minutes"}}, "must be a duration"),
        ({"tenants": IDS, "rollout": {"tenantTimeout": "1d"}}, "must be a duration"),
        ({"tenants": IDS, "rollout": {"retries": -1}}, "spec.rollout.retries"),
        ({"tenants": IDS, "migrate": {"migrationName": "0002"}}, "needs migrate.appLabel"),
    ],
    ids=[
        "missing-image",
        "ids-and-all",
        "neither",
        "bad-id",
        "long-id",
        "exclude-with-ids",
        "max-concurrent",
        "failure-policy",
        "interval",
        "timeout",
        "negative-retries",
        "target",
    ],
)
def test_bad_specs_are_refused_by_the_api_server(api, spec, message):
    result = dry_run(api, {"image": "app:1", **spec})
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_a_good_spec_is_accepted_with_its_defaults(api):
    manifest = tenant_migration("good", {"tenants": {"all": True}})
    out = api.kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        NAMESPACE,
        "-o",
        "json",
        "-f",
        "-",
        input=json.dumps(manifest),
    )
    spec = json.loads(out.stdout)["spec"]
    assert spec["command"] == ["python", "manage.py"]
    assert spec["rollout"]["maxConcurrent"] == 1 and spec["rollout"]["failurePolicy"] == "Halt"
    assert spec["rollout"]["tenantTimeout"] == "30m"


@pytest.mark.parametrize(
    "path", sorted((REPO / "manifests" / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_example_manifests_are_accepted(api, path):
    api.kubectl("apply", "--dry-run=server", "-n", NAMESPACE, "-f", str(path))


def test_fields_that_shape_the_rollout_are_immutable_and_pacing_is_not(api):
    api.apply(
        yaml.safe_dump(
            {
                **tenant_migration("frozen", {"tenants": IDS}),
                "metadata": {"name": "frozen", "namespace": NAMESPACE},
            }
        )
    )

    def patch(body):
        return api.kubectl(
            "patch",
            "tm",
            "frozen",
            "-n",
            NAMESPACE,
            "--type",
            "merge",
            "-p",
            json.dumps({"spec": body}),
            check=False,
        )

    for body in (
        {"image": "app:2"},
        {"tenants": {"ids": ["globex"]}},
        {"migrate": {"fake": True}},
        {"command": ["python3", "manage.py"]},
    ):
        result = patch(body)
        assert result.returncode != 0 and "is immutable" in result.stderr, body
    assert (
        patch(
            {"rollout": {"maxConcurrent": 3, "interval": "10s"}, "paused": True, "retryFailed": 2}
        ).returncode
        == 0
    )
    lowered = patch({"retryFailed": 1})
    assert lowered.returncode != 0 and "can only be raised" in lowered.stderr
    columns = api.kubectl("get", "tm", "-n", NAMESPACE).stdout.splitlines()[0].split()
    assert columns == ["NAME", "PHASE", "PROGRESS", "FAILED", "AGE"]


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("tm.spec.rollout.canary", "canary"),
        ("tm.spec.rollout.failurePolicy", "Halt"),
        ("tm.spec.tenants.all", "registry"),
        ("tm.spec.retryFailed", "failed"),
        ("tm.status.plan", "migration"),
    ],
)
def test_kubectl_explain_describes_the_fields(api, field, words):
    out = api.kubectl("explain", field).stdout
    description = out.split("DESCRIPTION:", 1)[1]
    assert words.lower() in description.lower(), out
    assert "<empty>" not in description, out


def test_kubectl_get_shows_phase_progress_and_failures(api):
    manifest = tenant_migration("columns", {"tenants": {"ids": ["acme"]}})
    manifest["metadata"]["namespace"] = NAMESPACE
    api.apply(manifest)
    api.kubectl(
        "patch",
        "tm",
        "columns",
        "-n",
        NAMESPACE,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"phase": "Running", "progress": "12/40", "tenants": {"failed": 1}}}),
    )
    header, row = api.kubectl("get", "tm", "columns", "-n", NAMESPACE).stdout.splitlines()
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "FAILED", "AGE"]
    assert row.split()[:4] == ["columns", "Running", "12/40", "1"]
