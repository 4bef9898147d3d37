"""``python -m devcluster build|up|down|status|pin``: the devcluster command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from devcluster import builder, versions
from devcluster.controlplane import ClusterError, ControlPlane, default_state_dir, version_banner


def _cmd_build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    print(f"devcluster: {version_banner()}", flush=True)
    builder.build(force=args.force)
    print(f"build finished in {time.monotonic() - started:.1f}s", flush=True)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    cluster = ControlPlane(args.state_dir, image_map=args.image_map, passthrough_env=args.env)
    print(f"devcluster: starting {version_banner()} in {args.state_dir}", flush=True)
    try:
        seconds = cluster.start()
    except ClusterError as exc:
        print(f"devcluster up failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"devcluster is up in {seconds:.1f}s: API server {cluster.server}\n"
        f"  export KUBECONFIG={cluster.kubeconfig}\n"
        f"  export PATH={builder.bin_dir()}:$PATH   # kubectl and helm {versions.HELM}\n"
        f"  kubectl get nodes\n"
        f"logs: {args.state_dir / 'logs'}; pods' output: {args.state_dir / 'pods'}\n"
        f"stop it with: python -m devcluster down --state-dir {args.state_dir}"
    )
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    cluster = ControlPlane(args.state_dir)
    if not cluster.load():
        print(f"no devcluster recorded in {args.state_dir}")
        return 0
    stopped = cluster.stop()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    cluster = ControlPlane(args.state_dir)
    running = cluster.status()
    if not running:
        print(f"no devcluster is running from {args.state_dir}")
        return 1
    for name, alive in running.items():
        record = next(r for r in cluster.records if r.name == name)
        print(f"{name:<25} pid {record.pid:<8} {'running' if alive else 'stopped'}")
    if all(running.values()):
        print(f"API server {cluster.server}; KUBECONFIG={cluster.kubeconfig}")
        return 0
    return 1


def _cmd_pin(args: argparse.Namespace) -> int:
    del args
    from devcluster.pin import pin

    pin()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    parser = argparse.ArgumentParser(prog="python -m devcluster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the binaries into the cache (once per version)")
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    build.set_defaults(func=_cmd_build)
    for name, func, text in (
        ("up", _cmd_up, "start etcd, kube-apiserver, kube-controller-manager and the node agent"),
        ("down", _cmd_down, "stop the processes `up` started"),
        ("status", _cmd_status, "say which of them run"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--state-dir", type=Path, default=default_state_dir())
        command.set_defaults(func=func)
        if name == "up":
            command.add_argument(
                "--image-map", action="append", default=[], metavar="PATTERN=DIR",
                help="run pods whose image matches the glob PATTERN in DIR (repeatable)",
            )  # fmt: skip
            command.add_argument(
                "--env", action="append", default=[], metavar="NAME",
                help="pass this variable of your environment into every pod (repeatable)",
            )  # fmt: skip
    pin = sub.add_parser("pin", help="rewrite the wrapper go.mod files from versions.py")
    pin.set_defaults(func=_cmd_pin)
    args = parser.parse_args(argv)
    if getattr(args, "state_dir", None) is not None:
        args.state_dir = args.state_dir.expanduser().resolve()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
