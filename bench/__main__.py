"""``python -m bench`` (``make bench``): ours against the peer on SQLite and PostgreSQL.

Sizes come from flags, or from the environment for ``make bench`` (``BENCH_TENANTS=500 make
bench``); see ``python -m bench --help``. Exits 1 when any run fails, never on a timing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from bench import report, scenarios
from bench.pgserver import PostgresUnavailable, throwaway_postgres
from bench.runner import BenchFailure
from bench.scenarios import Comparison
from bench.stores import FleetStore, PostgresStore, SqliteStore

BACKENDS = ("sqlite", "postgresql")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _history_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError("a comma-separated list of integers >= 0")
    return list(dict.fromkeys(values))


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return values


def _backend_list(text: str) -> list[str]:
    values = [part.strip() for part in text.split(",") if part.strip()]
    unknown = set(values) - set(BACKENDS)
    if unknown or not values:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(BACKENDS)}")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Flags, with defaults from ``BENCH_*`` environment variables."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Time and peak memory of migratealltenants against a full Django migrate "
        "per tenant (what django-tenants' migrate_schemas does), in the same run.",
    )
    parser.add_argument(
        "--tenants",
        type=int,
        default=_env_int("BENCH_TENANTS", 200),
        help="Tenants of the up-to-date fleet (env BENCH_TENANTS; default 200).",
    )
    parser.add_argument(
        "--fresh-tenants",
        type=int,
        default=_env_int("BENCH_FRESH_TENANTS", 100),
        help="Tenants of the fresh fleet (env BENCH_FRESH_TENANTS; default 100).",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=_env_int("BENCH_REPEATS", 3),
        help="Runs per side; the median is reported (env BENCH_REPEATS; default 3).",
    )
    parser.add_argument(
        "--parallel",
        type=_int_list,
        default=_int_list(os.environ.get("BENCH_PARALLEL") or "1,4"),
        help="--parallel values of ours on the fresh fleet (env BENCH_PARALLEL; default 1,4).",
    )
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=_backend_list(os.environ.get("BENCH_BACKENDS") or ",".join(BACKENDS)),
        help="sqlite, postgresql or both (env BENCH_BACKENDS; default both). PostgreSQL is "
        "skipped, with a line saying why, when no server can be started.",
    )
    parser.add_argument(
        "--history",
        type=_history_list,
        default=_history_list(os.environ.get("BENCH_HISTORY") or "0,100"),
        help="Migration histories of the up-to-date fleet, comma-separated (env BENCH_HISTORY; "
        "default 0,100): 0 is the example project as is (4 migrations), K adds a generated "
        "tenant app with K small migrations (bench/history.py). The fresh fleets use the "
        "first value.",
    )
    args = parser.parse_args(argv)
    if min(args.tenants, args.fresh_tenants, args.repeats) < 1:
        parser.error("--tenants, --fresh-tenants and --repeats must be at least 1")
    return args


@contextmanager
def open_stores(backend: str, histories: list[int]) -> Iterator[list[FleetStore]]:
    """A fleet store per history on a backend; PostgreSQL starts (and later stops) its own
    server, shared by the stores."""
    with ExitStack() as stack:
        server = None if backend == "sqlite" else stack.enter_context(throwaway_postgres())
        stores: list[FleetStore] = []
        for history in histories:
            store: FleetStore = (
                SqliteStore(history) if server is None else PostgresStore(server, history)
            )
            stack.callback(store.close)
            stores.append(store)
        yield stores


def run_backend(
    backend: str, args: argparse.Namespace, emit: Callable[[str], None]
) -> list[Comparison]:
    """Every scenario on one backend; prints each result line as soon as it is known."""
    found: list[Comparison] = []
    with open_stores(backend, args.history) as stores:
        for store in stores:
            comparison = scenarios.up_to_date(store, args.tenants, args.repeats)
            found.append(comparison)
            emit(report.time_line(comparison))
        fresh = scenarios.fresh(stores[0], args.fresh_tenants, args.repeats, args.parallel)
        found.extend(fresh)
        for comparison in fresh:
            emit(report.time_line(comparison))
        for comparison in found:
            emit(report.memory_line(comparison))
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; returns the exit code."""
    args = parse_args(argv)

    def emit(line: str) -> None:
        print(line, flush=True)

    started = time.monotonic()
    comparisons: list[Comparison] = []
    for backend in args.backends:
        try:
            comparisons.extend(run_backend(backend, args, emit))
        except PostgresUnavailable as exc:
            emit(f"{backend}: skipped, no server can be started here: {exc}")
        except BenchFailure as exc:
            print(f"bench: a run failed on {backend}: {exc}", file=sys.stderr, flush=True)
            return 1
    if comparisons:
        emit("")
        emit(report.table(comparisons, args.repeats))
    emit(f"bench: done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
