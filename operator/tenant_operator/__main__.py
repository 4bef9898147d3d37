"""``python -m tenant_operator`` / ``tenant-operator``: run the TenantMigration operator.

A ``kopf run`` with our settings: the namespaces to watch (or all), peering so that of two
replicas only one acts, a liveness endpoint, Prometheus metrics, and JSON or text logs.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys

import kopf

from tenant_operator import handlers
from tenant_operator.jobs import DEFAULT_JOB_TTL_SECONDS, JobSettings
from tenant_operator.kube import ClusterClient, load_config
from tenant_operator.metrics import Metrics
from tenant_operator.reconciler import Reconciler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tenant-operator", description=__doc__)
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        dest="namespaces",
        help="A namespace to watch (repeat for more; exact names).",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="Watch every namespace.")
    parser.add_argument(
        "--peering",
        default="tenantops-operator",
        help="Name of the KopfPeering object shared by replicas (default: tenantops-operator).",
    )
    parser.add_argument(
        "--standalone", action="store_true", help="No peering: for a single local process."
    )
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        help=(
            "Peering priority; the live replica with the highest one acts, the others wait. "
            "Default: random, so replicas never tie (kopf pauses every replica on a tie)."
        ),
    )
    parser.add_argument(
        "--liveness",
        default="http://127.0.0.1:8081/healthz",
        help="Liveness endpoint URL (default: http://127.0.0.1:8081/healthz).",
    )
    parser.add_argument("--metrics-address", default="127.0.0.1")
    parser.add_argument("--metrics-port", type=int, default=8080, help="0 disables /metrics.")
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--job-ttl",
        type=int,
        default=DEFAULT_JOB_TTL_SECONDS,
        help="ttlSecondsAfterFinished of the Jobs (the results are kept in the tenant table).",
    )
    parser.add_argument(
        "--resync",
        type=float,
        default=30.0,
        help="Reconcile each rollout at least this often, in seconds (default 30).",
    )
    return parser.parse_args(argv)


def peering_priority(requested: int | None) -> int:
    """The replica's peering priority: as requested, or a random one.

    kopf pauses *every* operator when two live peers share a priority, so replicas of one
    Deployment started with the same fixed priority would all stand still. A random priority
    per process elects exactly one active replica; when it dies, its peering record expires and
    the next-highest takes over (the durable tenant table makes the handover safe).
    """
    if requested is not None:
        return requested
    return secrets.randbelow(2**31 - 1) + 1


def main(argv: list[str] | None = None) -> int:
    """Run the operator until interrupted."""
    args = parse_args(argv)
    kopf.configure(
        verbose=args.verbose,
        log_format=kopf.LogFormat.JSON if args.log_format == "json" else kopf.LogFormat.FULL,
    )
    if not args.verbose:
        # kopf logs every successful Job/resource event at INFO; our own lines say what matters.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    load_config()
    metrics = Metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_address)
    reconciler = Reconciler(
        ClusterClient(), job_settings=JobSettings(args.job_ttl), metrics=metrics
    )
    memo = kopf.Memo(operator=handlers.OperatorState(reconciler, resync_seconds=args.resync))
    logging.getLogger(__name__).info(
        "Watching %s.", "all namespaces" if args.all_namespaces else ", ".join(args.namespaces)
    )
    kopf.run(
        clusterwide=args.all_namespaces,
        namespaces=args.namespaces or (),
        standalone=args.standalone or None,
        peering_name=None if args.standalone else args.peering,
        priority=peering_priority(args.priority),
        liveness_endpoint=args.liveness,
        memo=memo,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
