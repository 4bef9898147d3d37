"""A throw-away PostgreSQL server for the benchmarks, started like the tests' fixture.

It reuses the fixture's helpers (``tests/conftest.py``: finding the binaries, a free port,
running as the ``postgres`` user under root, :class:`PostgresServer` for SQL). The server
listens on 127.0.0.1 only and stops by itself: a watchdog process in its own session holds a
pipe from this process and stops the server when the pipe closes, however this process ends
(normal exit, an exception, Ctrl-C, or SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import PostgresServer

# Runs in the watchdog: block until the parent's end of the pipe closes, then stop the server.
_WATCHDOG = """
import shutil, subprocess, sys
sys.stdin.buffer.read()
subprocess.run(sys.argv[2:], capture_output=True)
shutil.rmtree(sys.argv[1], ignore_errors=True)
"""


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries or no psycopg: the PostgreSQL benchmarks are skipped."""


def postgres_missing() -> str | None:
    """Why a server cannot be started here, or ``None`` when it can."""
    try:
        from tests.conftest import find_pg_bin
    except ImportError as exc:  # the fixture module needs pytest (extra "test")
        return f"the tests' PostgreSQL helpers cannot be imported: {exc}"
    if find_pg_bin() is None:
        return "pg_ctl not found (install PostgreSQL: scripts/ensure-postgres.sh)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[bench]')"
    return None


@contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """Start a server in a temporary directory; it is stopped and removed on exit."""
    reason = postgres_missing()
    if reason:
        raise PostgresUnavailable(reason)
    from tests.conftest import (
        PG_PASSWORD,
        PG_USER,
        PostgresServer,
        _as_postgres_user,
        find_pg_bin,
        free_port,
    )

    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable("pg_ctl not found")
    base = Path(tempfile.mkdtemp(prefix="tenantops-bench-pg-"))
    data, sockets, pwfile = base / "data", base / "sockets", base / "pwfile"
    sockets.mkdir()
    pwfile.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        for path in (base, sockets, pwfile):
            shutil.chown(path, "postgres")
    stop = _as_postgres_user(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
    )
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(base), *stop],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port = free_port()
        initdb = [
            str(bin_dir / "initdb"),
            *("-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}"),
            *("--auth=scram-sha-256", "--encoding=UTF8", "--no-sync"),
        ]
        subprocess.run(_as_postgres_user(initdb), check=True, capture_output=True)
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log")]
        subprocess.run(
            _as_postgres_user([*start, "-o", options, "-w", "start"]),
            check=True,
            capture_output=True,
        )
        yield PostgresServer("127.0.0.1", port)
    finally:
        assert watchdog.stdin is not None
        watchdog.stdin.close()  # the watchdog stops the server and removes the directory
        watchdog.wait(timeout=60)
