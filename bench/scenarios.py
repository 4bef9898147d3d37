"""The comparisons: an up-to-date fleet and a fresh fleet, ours against the peer.

Each sample is a fresh subprocess (:func:`bench.runner.run_command`). Within a round every side
runs once; the order rotates from round to round, so slow moments of a shared machine fall on
each side alike. A run's output is checked for what it should have done, so a benchmark that
migrated nothing cannot pass for a fast one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from bench import history as synthetic
from bench.django_env import EXAMPLE, REPO
from bench.runner import BenchFailure, Series, run_command
from bench.stores import Fleet, FleetStore

OURS = [sys.executable, str(EXAMPLE / "manage.py"), "migratealltenants", "--no-input"]
PEER = [sys.executable, "-m", "bench.peer"]
PEER_LABEL = "per-tenant migrate"


@dataclass
class Side:
    """One contender: its label, its command line and what its output must contain."""

    series: Series
    argv: list[str]
    expect: str

    def run(self, fleet: Fleet) -> None:
        """One measured run against ``fleet``."""
        sample, output = run_command(self.argv, fleet.env, REPO)
        if self.expect not in output:
            tail = "\n".join(output.splitlines()[-5:])
            raise BenchFailure(f"{self.series.label}: expected {self.expect!r} in:\n{tail}")
        self.series.samples.append(sample)


@dataclass
class Comparison:
    """Ours against the peer in one scenario, with the samples of both."""

    scenario: str  # "up-to-date fleet" or "fresh fleet"
    variant: str  # e.g. "--parallel 4", or ""
    backend: str
    tenants: int
    ours: Series
    peer: Series


def rounds(sides: Sequence[Side], repeats: int) -> list[list[Side]]:
    """``repeats`` rounds of every side, each round starting one side later."""
    count = len(sides)
    return [[sides[(start + i) % count] for i in range(count)] for start in range(repeats)]


def up_to_date(store: FleetStore, tenants: int, repeats: int) -> Comparison:
    """Every tenant already migrated: ours skips them, the peer runs ``migrate`` for each."""
    ours = Side(Series("tenantops", []), OURS, f"{tenants} up to date, 0 failed")
    peer = Side(Series(PEER_LABEL, []), PEER, f"Migrated {tenants} tenants")
    fleet = store.copy(tenants)
    try:
        # Untimed: bring the fleet up to date (this also warms the page cache for both sides).
        # A synthetic history is only recorded (--fake): up to date, neither side touches its
        # tables, and applying thousands of ALTER TABLEs would only make the benchmark slow.
        if store.history:
            run_command([*OURS, synthetic.APP, "--fake", "--parallel=4"], fleet.env, REPO)
        run_command(OURS, fleet.env, REPO)
        for round_ in rounds([ours, peer], repeats):
            for side in round_:
                side.run(fleet)
    finally:
        store.discard(fleet)
    variant = f"--history {store.history}" if store.history else ""
    return Comparison("up-to-date fleet", variant, store.backend, tenants, ours.series, peer.series)


def fresh(
    store: FleetStore, tenants: int, repeats: int, parallels: Sequence[int]
) -> list[Comparison]:
    """Nothing applied yet: every run migrates its own fresh copy of the fleet."""
    ours = [
        Side(
            Series(f"tenantops --parallel {n}", []),
            [*OURS, f"--parallel={n}"],
            f"{tenants} migrated, 0 up to date, 0 failed",
        )
        for n in parallels
    ]
    peer = Side(Series(PEER_LABEL, []), PEER, f"Migrated {tenants} tenants")
    for round_ in rounds([*ours, peer], repeats):
        for side in round_:
            fleet = store.copy(tenants)
            try:
                side.run(fleet)
            finally:
                store.discard(fleet)
    history = f" --history {store.history}" if store.history else ""
    return [
        Comparison(
            "fresh fleet",
            f"--parallel {n}{history}",
            store.backend,
            tenants,
            side.series,
            peer.series,
        )
        for n, side in zip(parallels, ours, strict=True)
    ]
