"""The CRD is generated from the code; the committed copies must not drift from it."""

from __future__ import annotations

import pytest
import yaml
from tenant_operator.crd import CRD_FILES, crd, render
from tenant_operator.model import MigrationSpec

from tenant_app.ids import TENANT_ID_MAX_LENGTH, TENANT_ID_PATTERN


@pytest.mark.parametrize("path", CRD_FILES, ids=lambda p: p.name)
def test_committed_crd_files_match_the_generated_crd(path):
    assert path.read_text() == render(), (
        f"{path} drifted: run python -m tenant_operator.crd --write"
    )


def schema():
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def test_crd_defaults_are_the_operator_defaults():
    spec = MigrationSpec.from_dict({"image": "a", "tenants": {"all": True}})
    rollout = schema()["properties"]["rollout"]["properties"]
    for name in (
        "maxConcurrent",
        "interval",
        "canary",
        "pauseAfterCanary",
        "maxFailures",
        "retries",
        "tenantTimeout",
    ):
        assert rollout[name]["default"] == getattr(spec.rollout, name), name
    assert rollout["failurePolicy"]["default"] == spec.rollout.failurePolicy.value
    assert schema()["properties"]["command"]["default"] == list(spec.command)


def test_tenant_ids_use_the_one_tenant_id_rule():
    ids = schema()["properties"]["tenants"]["properties"]["ids"]["items"]
    assert ids["pattern"] == TENANT_ID_PATTERN and ids["maxLength"] == TENANT_ID_MAX_LENGTH


def test_every_spec_field_is_described():
    def walk(node, path):
        for name, child in (node.get("properties") or {}).items():
            if path.startswith("spec.jobTemplate.podSecurityContext"):
                continue
            assert child.get("description"), f"{path}.{name} has no description"
            walk(child, f"{path}.{name}")

    walk(schema(), "spec")


def test_printer_columns_show_phase_progress_failed_and_age():
    columns = crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Phase", "Progress", "Failed", "Age"]


def test_rollout_shaping_fields_are_immutable_and_pacing_fields_are_not():
    props = schema()["properties"]
    for name in ("image", "command", "tenants", "migrate", "dryRun"):
        rules = [v["rule"] for v in props[name].get("x-kubernetes-validations", [])]
        assert "self == oldSelf" in rules, name
    for name in ("rollout", "paused", "jobTemplate"):
        rules = [v["rule"] for v in props[name].get("x-kubernetes-validations", [])]
        assert "self == oldSelf" not in rules, name


def test_rendered_crd_is_valid_yaml_with_a_status_subresource():
    loaded = yaml.safe_load(render())
    assert loaded["spec"]["versions"][0]["subresources"] == {"status": {}}
    assert loaded["spec"]["names"]["shortNames"] == ["tm"]
