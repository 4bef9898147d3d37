"""Shared fixtures: a real PostgreSQL server for the session, the example project's commands.

``postgres_server`` (session) starts a throw-away server: initdb in a temporary directory,
127.0.0.1 on a free port, password authentication, stopped at the end of the session. As root
(here and in CI) it runs as the ``postgres`` system user, since PostgreSQL refuses root.
The operator's end-to-end tests reuse it::

    def test_something(postgres_server):
        url = postgres_server.create_database()      # fresh, empty database; returns its URL
        postgres_server.url                          # postgres://tenantops:tenantops@127.0.0.1:PORT/postgres
        postgres_server.execute("CREATE ROLE ...")   # SQL as the superuser (autocommit)

``pg_control`` gives each test a fresh control database (URL) and drops the tenant databases
the test created. ``sqlite_data_dir`` gives each test its own TENANTOPS_DATA_DIR.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parent.parent
MANAGE = REPO / "example" / "manage.py"
PG_USER = "tenantops"
PG_PASSWORD = "tenantops"


def find_pg_bin() -> Path | None:
    """The directory with initdb/pg_ctl/postgres: on PATH, else the newest Debian install."""
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(os.path.realpath(pg_ctl)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throw-away PostgreSQL server."""

    host: str
    port: int
    user: str = PG_USER
    password: str = PG_PASSWORD
    databases: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Superuser URL of the ``postgres`` database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str, user: str | None = None, password: str | None = None) -> str:
        """URL of ``dbname`` as the superuser, or as another role."""
        user, password = user or self.user, password if user else self.password
        auth = quote(user) + (f":{quote(password)}" if password else "")
        return f"postgres://{auth}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=kwargs.pop("user", self.user),
            password=kwargs.pop("password", self.password),
            dbname=dbname,
            autocommit=True,
            **kwargs,
        )

    def execute(
        self, statement: Any, params: Sequence[Any] | None = None, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Run SQL as the superuser (autocommit); returns the rows, if any."""
        with self.connect(dbname) as conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
            return list(cursor.fetchall()) if cursor.description else []

    def database_names(self) -> set[str]:
        rows = self.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
        return {row[0] for row in rows}

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database; returns its superuser URL."""
        from psycopg import sql

        name = name or f"control_{uuid.uuid4().hex[:12]}"
        self.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(shlex_quote, command))]


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (skips when none is installed)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (run scripts/ensure-postgres.sh)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[postgres]')")
    base = Path(tempfile.mkdtemp(prefix="tenantops-pg-"))
    data, sockets, pwfile = base / "data", base / "sockets", base / "pwfile"
    sockets.mkdir()
    pwfile.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        for path in (sockets, pwfile):
            shutil.chown(path, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    server = PostgresServer("127.0.0.1", port)
    try:
        yield server
    finally:
        subprocess.run(
            _as_postgres_user(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class PgControl:
    """A per-test control database on the session server."""

    server: PostgresServer
    url: str
    name: str

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url}


@pytest.fixture
def pg_control(postgres_server: PostgresServer) -> Iterator[PgControl]:
    """A fresh control database; tenant databases the test creates are dropped afterwards."""
    before = postgres_server.database_names()
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    yield PgControl(postgres_server, url, name)
    for database in postgres_server.database_names() - before:
        postgres_server.drop_database(database)


@pytest.fixture
def sqlite_data_dir(tmp_path: Path) -> Path:
    """A TENANTOPS_DATA_DIR of its own (control database and tenant files)."""
    path = tmp_path / "var"
    path.mkdir()
    return path


def manage(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python example/manage.py ARGS`` in a fresh process; returns the completed process."""
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TENANT_MIGRATE_REPORT")
    }
    full_env.pop("DJANGO_SETTINGS_MODULE", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=full_env,
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )
