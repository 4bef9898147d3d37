"""The pinned versions of everything devcluster builds: the one place to change them.

The wrapper Go modules under ``devcluster/build/`` must agree with these pins; ``python -m
devcluster build`` checks that and ``python -m devcluster pin`` rewrites them after a change.
"""

from __future__ import annotations

#: Kubernetes release (kube-apiserver, kube-controller-manager, kubectl). The staging modules
#: (k8s.io/api, k8s.io/client-go, ...) are replaced by their published ``v0.<minor>.<patch>``.
KUBERNETES = "v1.35.4"
#: etcd server release (3.6 line).
ETCD = "v3.6.16"
#: Helm release.
HELM = "v3.22.0"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """Return the published version of the ``k8s.io/*`` staging modules for a release.

    >>> staging_version("v1.35.4")
    'v0.35.4'
    """
    major, minor, patch = kubernetes.lstrip("v").split(".")
    del major
    return f"v0.{minor}.{patch}"


def cache_key() -> str:
    """Return the directory name that keys the binary cache by every pinned version."""
    return f"k8s-{KUBERNETES}_etcd-{ETCD}_helm-{HELM}"
