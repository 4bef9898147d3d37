"""Run one measured command in a fresh subprocess: wall time and peak memory (ru_maxrss)."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class BenchFailure(Exception):
    """A measured or setup command failed; the benchmark exits non-zero with its output."""


@dataclass(frozen=True)
class Sample:
    """One run: wall seconds and the child's peak resident memory in KiB."""

    seconds: float
    max_rss_kib: int


def run_command(
    argv: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 900.0
) -> tuple[Sample, str]:
    """Run ``argv`` to completion; returns its :class:`Sample` and its combined output.

    ``os.wait4`` gives the rusage of this one child (``ru_maxrss``: its peak RSS in KiB on
    Linux), so concurrent or earlier children never blur the figure. Raises
    :class:`BenchFailure` on a non-zero exit or after ``timeout`` seconds.
    """
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        tail = "\n".join(text.splitlines()[-20:])
        raise BenchFailure(f"{' '.join(argv)} exited {process.returncode}:\n{tail}")
    return Sample(seconds, _rss_kib(usage)), text


def _rss_kib(usage: resource.struct_rusage) -> int:
    # Linux reports KiB; macOS reports bytes.
    return int(usage.ru_maxrss // 1024 if os.uname().sysname == "Darwin" else usage.ru_maxrss)


@dataclass
class Series:
    """The samples of one side of a comparison."""

    label: str
    samples: list[Sample]

    @property
    def seconds(self) -> float:
        """Median wall time."""
        return statistics.median(s.seconds for s in self.samples)

    @property
    def max_rss_mib(self) -> float:
        """Median peak RSS, MiB."""
        return statistics.median(s.max_rss_kib for s in self.samples) / 1024
