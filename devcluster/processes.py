"""Start processes, record them, and stop exactly those processes again (by pid, never by name).

A recorded process is identified by its pid *and* its start time (from /proc), so a pid the
kernel has since reused for something else is never signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Recorded:
    """A process devcluster started: its name, pid and kernel start time."""

    name: str
    pid: int
    start_time: int

    def to_json(self) -> dict[str, object]:
        """Return the record as a JSON-ready dict."""
        return asdict(self)


def start_time_of(pid: int) -> int | None:
    """Return a process's start time in clock ticks since boot, or None when it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after it are fixed.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited already
        return None
    return int(fields[19])


def is_running(record: Recorded) -> bool:
    """Tell whether the recorded process is still the one running under its pid."""
    return start_time_of(record.pid) == record.start_time


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """Return a preexec function making the child receive ``sig`` when its parent dies."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


def spawn(
    name: str,
    argv: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = False,
) -> tuple[subprocess.Popen[bytes], Recorded]:
    """Start ``argv`` in its own session with output to ``log_file``; return it and its record."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=parent_death_signal() if die_with_parent else None,
        )
    started = start_time_of(proc.pid)
    return proc, Recorded(name, proc.pid, started if started is not None else -1)


def stop(record: Recorded, grace_seconds: float = 10) -> bool:
    """Stop a recorded process: SIGTERM, then SIGKILL after the grace period.

    Returns True when it was running. A pid now owned by another process is left alone.
    """
    if not is_running(record):
        return False
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_running(record):
            return True
        time.sleep(0.05)
    if is_running(record):
        os.kill(record.pid, signal.SIGKILL)
        for _ in range(100):
            _reap(record.pid)
            if not is_running(record):
                break
            time.sleep(0.05)
    return True


def _reap(pid: int) -> None:
    # Reap our own child so it does not linger as a zombie; others' children are not ours to reap.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
