"""Turn a pod's container into a local process: its argv, working directory and environment.

How a container becomes a process (documented in devcluster/README.md):

- The image picks the working directory through the image map: ``PATTERN=DIR`` rules, where
  PATTERN is a shell glob matched against the image reference (``*app*`` by default, mapped to
  the repository's ``example/`` directory). An image no rule matches runs in an empty per-pod
  scratch directory.
- ``command`` + ``args`` is the argv (images have no entrypoint here, so ``command`` is
  required). ``python``/``python3`` run the interpreter that runs the node agent (the project's
  venv, where Django is installed); other programs are looked up on PATH, the venv's bin first.
- The environment is a small base (PATH, HOME, LANG, HOSTNAME, the Kubernetes service variables),
  the agent's ``--passthrough-env`` variables, then the container's ``envFrom`` and ``env`` with
  Secrets, ConfigMaps and field references resolved, as kubelet does.
- The termination-message path (``terminationMessagePath``, by default /dev/termination-log)
  becomes a per-container file: the variables ``TENANT_MIGRATE_REPORT`` and
  ``DEVCLUSTER_TERMINATION_MESSAGE_PATH`` name it, and any argument or env value equal to the
  container's terminationMessagePath is rewritten to it.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMAGE_MAP = (f"*app*={REPO_ROOT / 'example'}",)
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"

Pod = dict[str, Any]
#: Reads a Secret or ConfigMap's data: (kind, namespace, name) -> decoded data, or None if absent.
ObjectReader = Callable[[str, str, str], "dict[str, str] | None"]


class PodSpecError(Exception):
    """The container cannot run here; the message becomes the pod's failure message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ImageRule:
    """Map images whose reference matches ``pattern`` to the working directory ``directory``."""

    pattern: str
    directory: Path

    @classmethod
    def parse(cls, text: str) -> ImageRule:
        """Parse ``PATTERN=DIR``."""
        pattern, sep, directory = text.partition("=")
        if not sep or not pattern or not directory:
            raise ValueError(f"image map rule {text!r} is not PATTERN=DIR (e.g. '*app*=./example')")
        return cls(pattern, Path(directory).expanduser().resolve())


def workdir_for(image: str, rules: list[ImageRule], scratch: Path) -> Path:
    """Return the working directory of a container running ``image``."""
    for rule in rules:
        if fnmatch.fnmatchcase(image, rule.pattern):
            return rule.directory
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch


def base_env(pod: Pod, passthrough: list[str], api_port: int | None) -> dict[str, str]:
    """Return the environment every container of ``pod`` starts from."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/bin:/bin")]),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOSTNAME": pod["metadata"]["name"],
        "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
    }
    if api_port is not None:
        env |= {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api_port)}
    for name in passthrough:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _field_ref(pod: Pod, path: str) -> str:
    meta, spec, _status = pod["metadata"], pod["spec"], pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": "127.0.0.1",
        "status.podIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    if path in simple:
        return str(simple[path] or "")
    for prefix, source in (("metadata.labels", "labels"), ("metadata.annotations", "annotations")):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(meta.get(source, {}).get(path[len(prefix) + 2 : -2], ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = meta.get(path.split(".")[1], {})
        return "\n".join(f'{k}="{v}"' for k, v in sorted(items.items()))
    raise PodSpecError("CreateContainerConfigError", f"unsupported fieldRef {path!r}")


def _source(
    reader: ObjectReader, kind: str, namespace: str, name: str, optional: bool
) -> dict[str, str] | None:
    data = reader(kind, namespace, name)
    if data is None and not optional:
        raise PodSpecError("CreateContainerConfigError", f'{kind.lower()} "{name}" not found')
    return data


def container_env(
    pod: Pod, container: Mapping[str, Any], base: Mapping[str, str], reader: ObjectReader
) -> dict[str, str]:
    """Resolve a container's ``envFrom`` then ``env`` (later entries win) on top of ``base``."""
    namespace = pod["metadata"]["namespace"]
    env = dict(base)
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if ref:
                data = _source(reader, kind, namespace, ref["name"], bool(ref.get("optional")))
                env |= {prefix + k: v for k, v in (data or {}).items()}
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = _expand(item.get("value", ""), env)
            continue
        value_from = item["valueFrom"]
        if "fieldRef" in value_from:
            env[name] = _field_ref(pod, value_from["fieldRef"]["fieldPath"])
            continue
        for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = value_from.get(key)
            if not ref:
                continue
            optional = bool(ref.get("optional"))
            data = _source(reader, kind, namespace, ref["name"], optional)
            if data is not None and ref["key"] in data:
                env[name] = data[ref["key"]]
            elif not optional:
                raise PodSpecError(
                    "CreateContainerConfigError",
                    f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}",
                )
            break
        else:
            if "resourceFieldRef" not in value_from:
                raise PodSpecError("CreateContainerConfigError", f"unsupported valueFrom {name}")
    return env


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` references the way kubelet does (``$$`` escapes)."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and (end := value.find(")", i)) != -1:
            name = value[i + 2 : end]
            out.append(env.get(name, value[i : end + 1]))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def decode_data(obj: Mapping[str, Any], kind: str) -> dict[str, str]:
    """Return a Secret's or ConfigMap's data as text (Secrets are base64 on the wire)."""
    if kind == "Secret":
        return {
            k: base64.b64decode(v).decode(errors="replace")
            for k, v in (obj.get("data") or {}).items()
        } | dict(obj.get("stringData") or {})
    return dict(obj.get("data") or {})


def container_argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Return the argv of a container: ``command`` + ``args`` with ``$(VAR)`` expanded."""
    command = list(container.get("command") or [])
    if not command:
        raise PodSpecError(
            "CreateContainerError",
            f"container {container['name']!r} has no command: devcluster images have no "
            "entrypoint, so set `command` (e.g. [python, manage.py])",
        )
    argv = [_expand(a, env) for a in command + list(container.get("args") or [])]
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    elif "/" not in argv[0]:
        found = shutil.which(argv[0], path=env.get("PATH"))
        if found is None:
            raise PodSpecError(
                "StartError", f'exec: "{argv[0]}": executable file not found in $PATH'
            )
        argv[0] = found
    return argv


def redirect_termination_path(
    container: Mapping[str, Any], argv: list[str], env: dict[str, str], local_file: Path
) -> list[str]:
    """Point the container's termination-message path at ``local_file`` in argv and env."""
    declared = container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH
    targets = {declared, DEFAULT_TERMINATION_MESSAGE_PATH}
    for key, value in list(env.items()):
        if value in targets:
            env[key] = str(local_file)
    env.setdefault("TENANT_MIGRATE_REPORT", str(local_file))
    env["DEVCLUSTER_TERMINATION_MESSAGE_PATH"] = str(local_file)
    return [str(local_file) if a in targets else a for a in argv]
