"""Build the control-plane binaries from their Go modules into a cache keyed by version.

Each binary is built from a small wrapper module under ``devcluster/build/`` with
``CGO_ENABLED=0 go build -trimpath`` and version ldflags, and written atomically into
``${XDG_CACHE_HOME:-~/.cache}/tenantops-devcluster/<versions>/bin/``. A binary that is already
there is not built again, so a second run builds nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from devcluster import versions

BUILD_DIR = Path(__file__).resolve().parent / "build"
#: A fixed build date keeps the binaries reproducible; ``/version`` shows it.
BUILD_DATE = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class Binary:
    """One binary: its name, the wrapper module it builds in, its package and its ldflags."""

    name: str
    module: str
    package: str
    ldflags: tuple[str, ...]


def _kube_ldflags() -> tuple[str, ...]:
    version = versions.KUBERNETES
    major, minor, _ = version.lstrip("v").split(".")
    flags: list[str] = []
    # component-base/version feeds /version and `kubectl version`; client-go's copy feeds the
    # client's user agent. Kubernetes' own hack/lib/version.sh sets both.
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={BUILD_DATE}",
        ]
    return tuple(flags)


def binaries() -> list[Binary]:
    """Return every binary devcluster needs, in build order (shared packages first)."""
    kube = _kube_ldflags()
    return [
        Binary("etcd", "etcd", ".", ("-X go.etcd.io/etcd/api/v3/version.GitSHA=release",)),
        Binary("kube-apiserver", "kube", "k8s.io/kubernetes/cmd/kube-apiserver", kube),
        Binary(
            "kube-controller-manager", "kube", "k8s.io/kubernetes/cmd/kube-controller-manager", kube
        ),
        Binary("kubectl", "kube", "k8s.io/kubernetes/cmd/kubectl", kube),
        Binary(
            "helm",
            "helm",
            "helm.sh/helm/v3/cmd/helm",
            (
                f"-X helm.sh/helm/v3/internal/version.version={versions.HELM}",
                "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
            ),
        ),
    ]


def cache_root() -> Path:
    """Return the cache directory for the pinned versions (outside the repository)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tenantops-devcluster" / versions.cache_key()


def bin_dir() -> Path:
    """Return the directory holding the built binaries."""
    return cache_root() / "bin"


def binary_path(name: str) -> Path:
    """Return the cached path of one binary (it may not exist yet)."""
    return bin_dir() / name


def missing_binaries() -> list[str]:
    """Return the names of the binaries not yet in the cache."""
    return [b.name for b in binaries() if not binary_path(b.name).is_file()]


class PinMismatchError(RuntimeError):
    """A wrapper module's go.mod disagrees with devcluster/versions.py."""


def check_pins() -> None:
    """Fail with a clear message when a wrapper go.mod does not require the pinned versions."""
    expected = {
        "kube": ("k8s.io/kubernetes", versions.KUBERNETES),
        "etcd": ("go.etcd.io/etcd/server/v3", versions.ETCD),
        "helm": ("helm.sh/helm/v3", versions.HELM),
    }
    for module, (path, version) in expected.items():
        gomod = (BUILD_DIR / module / "go.mod").read_text()
        if not re.search(
            rf"^\s*(require\s+)?{re.escape(path)} {re.escape(version)}\b", gomod, re.M
        ):
            raise PinMismatchError(
                f"devcluster/build/{module}/go.mod does not require {path} {version} "
                "(devcluster/versions.py). Run `python -m devcluster pin` and commit the result."
            )
    staging = versions.staging_version()
    kube_gomod = (BUILD_DIR / "kube" / "go.mod").read_text()
    for line in re.findall(r"^\s*(k8s\.io/\S+) => \S+ (\S+)$", kube_gomod, re.M):
        if line[1] != staging:
            raise PinMismatchError(
                f"devcluster/build/kube/go.mod replaces {line[0]} with {line[1]}, not {staging}. "
                "Run `python -m devcluster pin`."
            )


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    # The wrapper modules carry a complete go.sum: never let a build edit them. No VCS stamp:
    # the same pins give the same binaries, whatever the state of this repository.
    env["GOFLAGS"] = "-mod=readonly -buildvcs=false"
    return env


def _heartbeat(name: str, started: float, log: Path, done: threading.Event) -> None:
    while not done.wait(30):
        packages = sum(1 for _ in log.open()) if log.exists() else 0
        print(
            f"  ... {name}: {time.monotonic() - started:.0f}s, {packages} packages compiled",
            flush=True,
        )


def build_one(binary: Binary, log_dir: Path) -> float:
    """Build one binary into the cache and return the seconds it took."""
    target = binary_path(binary.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{binary.name}.log"
    started = time.monotonic()
    done = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(binary.name, started, log, done), daemon=True)
    beat.start()
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / binary.name
        cmd = [
            "go", "build", "-v", "-trimpath",
            "-ldflags", " ".join(("-s", "-w", *binary.ldflags)),
            "-o", str(out), binary.package,
        ]  # fmt: skip
        try:
            with log.open("w") as handle:
                proc = subprocess.run(
                    cmd, cwd=BUILD_DIR / binary.module, env=_go_env(), stderr=handle, check=False
                )
        finally:
            done.set()
        if proc.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
            raise RuntimeError(f"building {binary.name} failed (full log: {log}):\n{tail}")
        out.replace(target)
    return time.monotonic() - started


def build(force: bool = False) -> dict[str, float]:
    """Build every missing binary (all of them with ``force``); return seconds per binary built."""
    check_pins()
    if shutil.which("go") is None:
        raise RuntimeError("Go is not installed: devcluster builds its binaries with `go build`.")
    log_dir = cache_root() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    todo = [b for b in binaries() if force or not binary_path(b.name).is_file()]
    if not todo:
        print(f"devcluster binaries are up to date in {bin_dir()}", flush=True)
        return {}
    times: dict[str, float] = {}
    total = time.monotonic()
    for index, binary in enumerate(todo, 1):
        print(f"[{index}/{len(todo)}] building {binary.name} ({binary.package})", flush=True)
        times[binary.name] = build_one(binary, log_dir)
        print(f"[{index}/{len(todo)}] {binary.name} built in {times[binary.name]:.0f}s", flush=True)
    print(
        f"devcluster binaries built in {time.monotonic() - total:.0f}s into {bin_dir()}",
        flush=True,
    )
    return times


if __name__ == "__main__":  # pragma: no cover
    build(force="--force" in sys.argv)
