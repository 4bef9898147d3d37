"""Rewrite the wrapper Go modules under devcluster/build/ after a change to versions.py.

``python -m devcluster pin`` requires the pinned releases, replaces every ``k8s.io/*`` staging
module of the Kubernetes release with its published ``v0.X.Y`` (read from that release's own
go.mod), and lets ``go mod tidy`` complete go.sum. Commit the result.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from devcluster import versions
from devcluster.builder import BUILD_DIR

KUBE_TOOLS = (
    "k8s.io/kubernetes/cmd/kube-apiserver",
    "k8s.io/kubernetes/cmd/kube-controller-manager",
    "k8s.io/kubernetes/cmd/kubectl",
)
ETCD_MODULES = ("server", "api", "client/pkg", "client", "pkg")


def _go(module_dir: Path, *args: str) -> str:
    env = dict(os.environ, GOFLAGS="-mod=mod")
    result = subprocess.run(
        ["go", *args], cwd=module_dir, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout


def _staging_modules(kubernetes: str) -> list[str]:
    info = json.loads(
        _go(BUILD_DIR / "kube", "mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes}")
    )
    gomod = Path(info["GoMod"]).read_text()
    return re.findall(r"^\s*(k8s\.io/\S+) => \./staging/", gomod, re.M)


def _write_gomod(module_dir: Path, header: str, body: str) -> None:
    (module_dir / "go.mod").write_text(header + "\n" + body)
    (module_dir / "go.sum").unlink(missing_ok=True)


def pin() -> None:
    """Regenerate devcluster/build/{kube,etcd,helm}/go.mod and go.sum from versions.py."""
    kube = BUILD_DIR / "kube"
    staging = versions.staging_version()
    replaces = "".join(f"\t{m} => {m} {staging}\n" for m in _staging_modules(versions.KUBERNETES))
    _write_gomod(
        kube,
        "// Wrapper module: builds kube-apiserver, kube-controller-manager and kubectl from\n"
        "// k8s.io/kubernetes at the version pinned in devcluster/versions.py.\n"
        "// Regenerate with: python -m devcluster pin\n",
        f"module tenantops.dev/devcluster/kube\n\ngo 1.25.0\n\n"
        f"require k8s.io/kubernetes {versions.KUBERNETES}\n\nreplace (\n{replaces})\n",
    )
    _go(kube, "get", "-tool", *(f"{t}@{versions.KUBERNETES}" for t in KUBE_TOOLS))
    _go(kube, "mod", "tidy")

    etcd = BUILD_DIR / "etcd"
    _write_gomod(
        etcd,
        "// Wrapper module: builds etcd from go.etcd.io/etcd/server/v3 at the version pinned in\n"
        "// devcluster/versions.py (main.go calls etcdmain.Main as etcd's own main does).\n",
        "module tenantops.dev/devcluster/etcd\n\ngo 1.25.0\n",
    )
    _go(etcd, "get", *(f"go.etcd.io/etcd/{m}/v3@{versions.ETCD}" for m in ETCD_MODULES))
    _go(etcd, "mod", "tidy")

    helm = BUILD_DIR / "helm"
    _write_gomod(
        helm,
        "// Wrapper module: builds helm at the version pinned in devcluster/versions.py.\n",
        "module tenantops.dev/devcluster/helm\n\ngo 1.25.0\n",
    )
    _go(helm, "get", "-tool", f"helm.sh/helm/v3/cmd/helm@{versions.HELM}")
    _go(helm, "mod", "tidy")
    print(f"pinned {versions.KUBERNETES} (staging {staging}), etcd {versions.ETCD}, "
          f"helm {versions.HELM} in {BUILD_DIR}")  # fmt: skip
