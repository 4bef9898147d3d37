"""The benchmark still runs end to end and prints its ratio lines (tiny sizes, SQLite only).

No timing is asserted: ``make bench`` prints ratios against a peer measured in the same run.
This only keeps ``python -m bench`` from rotting unnoticed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RATIO = r"\d+\.\d+x (faster|slower)"


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bench_prints_time_and_memory_ratios_against_the_peer() -> None:
    result = run_bench(
        "--tenants=3",
        "--fresh-tenants=3",
        "--repeats=1",
        "--parallel=1,2",
        "--backends=sqlite",
        "--history=0,3",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(
        rf"^up-to-date fleet \(3 sqlite tenants\): tenantops \S+s, "
        rf"per-tenant migrate \S+s, {RATIO}$",
        out,
        re.M,
    ), out
    assert re.search(
        rf"^up-to-date fleet \(3 sqlite tenants, --history 3\): tenantops \S+s, "
        rf"per-tenant migrate \S+s, {RATIO}$",
        out,
        re.M,
    ), out
    for parallel in (1, 2):
        assert re.search(
            rf"^fresh fleet \(3 sqlite tenants, --parallel {parallel}\): .*, {RATIO}$", out, re.M
        ), out
    assert len(re.findall(r"^peak memory, .* MiB, \d+\.\d+x (less|more)$", out, re.M)) == 4, out
    assert "postgresql" not in out
    assert re.search(r"^up-to-date fleet +sqlite +3 ", out, re.M), out  # the summary table


def test_bench_refuses_nonsense_sizes() -> None:
    result = run_bench("--tenants=0", "--backends=sqlite")
    assert result.returncode == 2
    assert "must be at least 1" in result.stderr


def test_bench_history_generates_a_chain_of_small_migrations(tmp_path: Path) -> None:
    from bench import history

    base = history.generate(12, parent=tmp_path)
    migrations = base / history.APP / "migrations"
    names = sorted(p.stem for p in migrations.glob("0*.py"))
    assert names == [history.migration_name(i) for i in range(1, 13)]
    assert "CreateModel" in (migrations / "0011_step.py").read_text()
    assert "('bench_history', '0011_step')" in (migrations / "0012_step.py").read_text()
    assert (base / f"{history.SETTINGS}.py").exists()
    for path in migrations.glob("*.py"):
        compile(path.read_text(), str(path), "exec")
    history.remove(base)
    assert not base.exists()
