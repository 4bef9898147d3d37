"""What can be checked without a cluster or a Docker engine: chart, manifests, Dockerfile."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from tenant_operator.model import MigrationSpec

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "tenantops-operator"


def helm() -> str:
    try:
        from devcluster import builder

        candidate = builder.bin_dir() / "helm"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("helm")
    if not found:
        pytest.skip("helm is not built yet (python -m devcluster build)")
    return found


def render(*sets: str) -> list[dict]:
    args = [helm(), "template", "tenantops-operator", str(CHART), "--namespace", "tenantops"]
    for value in sets:
        args += ["--set", value]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


# --- the chart ----------------------------------------------------------------------------------
def test_install_manifest_is_the_rendered_chart():
    rendered = subprocess.run(
        [helm(), "template", "tenantops-operator", str(CHART), "-n", "tenantops", "--include-crds"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    committed = (ROOT / "manifests" / "install.yaml").read_text()
    assert committed.endswith(rendered), "manifests/install.yaml drifted: run manifests/render.sh"


@pytest.mark.parametrize("sets", [(), ("watch.allNamespaces=true",)], ids=["namespaced", "cluster"])
def test_rbac_is_least_privilege_and_never_reads_secrets(sets):
    docs = render(*sets)
    roles = of_kind(docs, "ClusterRole" if sets else "Role")
    assert roles
    for role in roles:
        for rule in role["rules"]:
            assert "secrets" not in rule["resources"]
            assert "*" not in rule["resources"] and "*" not in rule["verbs"]
            assert "delete" not in rule["verbs"]
        granted = {
            (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
        }
        assert ("", "pods/log") in granted and ("batch", "jobs") in granted
        assert ("tenantops.dev", "tenantmigrations/status") in granted


def test_listed_namespaces_get_one_role_and_peering_each():
    docs = render("watch.namespaces={saas,staging}")
    assert sorted(r["metadata"]["namespace"] for r in of_kind(docs, "Role")) == ["saas", "staging"]
    assert len(of_kind(docs, "KopfPeering")) == 2
    args = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=saas" in args and "--namespace=staging" in args


def test_cluster_wide_install_uses_a_cluster_peering():
    docs = render("watch.allNamespaces=true")
    assert of_kind(docs, "ClusterKopfPeering") and not of_kind(docs, "Role")
    args = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" in args


def test_deployment_is_restricted_with_liveness_and_metrics():
    pod = of_kind(render(), "Deployment")[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["name"] for p in container["ports"]} == {"metrics", "health"}
    assert pod["securityContext"]["runAsUser"] == dockerfile_uid()


def test_every_chart_value_is_documented_in_the_readme():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (ROOT / "README.md").read_text()
    for key in values:
        assert f"`{key}" in readme, f"chart value {key} is not documented in README.md"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "manifests" / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_example_migrations_are_valid_specs(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["kind"] == "TenantMigration"
    MigrationSpec.from_dict(doc["spec"])


# --- the Dockerfile -----------------------------------------------------------------------------
def stages() -> dict[str, list[str]]:
    """Instructions of each named stage of the Dockerfile."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if match:
            current = found.setdefault(match.group(1), [])
        current.append(line)
    return found


def dockerfile_uid() -> int:
    users = [line.split()[1] for line in stages()["operator"] if line.startswith("USER")]
    return int(users[-1].split(":")[0])


def test_dockerfile_has_the_operator_and_app_targets():
    assert {"operator", "app"} <= set(stages())


@pytest.mark.parametrize("target", ["operator", "app"])
def test_each_image_runs_as_a_numeric_non_root_user(target):
    users = [line.split()[1] for line in stages()[target] if line.startswith("USER")]
    assert users, f"stage {target} sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_operator_entrypoint_is_the_packaged_console_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entry = next(line for line in stages()["operator"] if line.startswith("ENTRYPOINT"))
    assert entry.split('"')[1] in scripts


def test_app_image_holds_manage_py_in_its_workdir():
    app = stages()["app"]
    workdir = next(line.split()[1] for line in app if line.startswith("WORKDIR"))
    copies = [line for line in app if line.startswith("COPY") and "--from" not in line]
    assert any(
        line.split()[-2] == "example/" and line.split()[-1].rstrip("/") == workdir
        for line in copies
    )
    assert (ROOT / "example" / "manage.py").exists()


def test_every_copied_path_exists():
    for lines in stages().values():
        for line in lines:
            if not line.startswith("COPY") or "--from" in line:
                continue
            sources = [p for p in line.split()[1:-1] if not p.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_build_context_leaves_out_local_state():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "example/var"} <= set(ignored)
