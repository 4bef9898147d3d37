"""Fixtures for the Django side: the example project on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PgControl, PostgresServer, manage

HERE = Path(__file__).resolve().parent


@dataclass
class Project:
    """The example project against one control database; runs its commands in subprocesses."""

    kind: str  # "sqlite" or "postgres"
    env: dict[str, str]
    data_dir: Path
    pg: PgControl | None = None

    @property
    def server(self) -> PostgresServer:
        assert self.pg is not None
        return self.pg.server

    def run(
        self, *args: str, settings: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``manage.py ARGS``; ``settings`` picks a module from tests/tenant_app/testsettings."""
        extra = dict(env)
        if settings:
            extra |= {"DJANGO_SETTINGS_MODULE": f"testsettings.{settings}", "PYTHONPATH": str(HERE)}
        return manage(*args, env={**self.env, **extra})

    def ok(self, *args: str, **kwargs: str) -> str:
        """Run and assert success; returns stdout."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (
            f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def create(self, tenant_id: str, name: str | None = None, isolation: str = "database") -> None:
        self.ok(
            "createtenant",
            f"--tenant-id={tenant_id}",
            f"--name={name or tenant_id.title()}",
            f"--isolation={isolation}",
            "--no-input",
        )


def _sqlite_project(data_dir: Path) -> Project:
    project = Project("sqlite", {"TENANTOPS_DATA_DIR": str(data_dir)}, data_dir)
    project.ok("migrate", "-v", "0")
    return project


def _pg_project(pg: PgControl, data_dir: Path) -> Project:
    project = Project("postgres", {**pg.env(), "TENANTOPS_DATA_DIR": str(data_dir)}, data_dir, pg)
    project.ok("migrate", "-v", "0")
    return project


@pytest.fixture
def sqlite_project(sqlite_data_dir: Path) -> Project:
    """The example project on the embedded SQLite default, control database migrated."""
    return _sqlite_project(sqlite_data_dir)


@pytest.fixture
def pg_project(pg_control: PgControl, sqlite_data_dir: Path) -> Project:
    """The example project on a fresh PostgreSQL control database, migrated."""
    return _pg_project(pg_control, sqlite_data_dir)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def project(request: pytest.FixtureRequest, sqlite_data_dir: Path) -> Iterator[Project]:
    """Both backends: the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_project(sqlite_data_dir)
    else:
        yield _pg_project(request.getfixturevalue("pg_control"), sqlite_data_dir)


@pytest.fixture(params=["database", "schema"])
def pg_isolation(request: pytest.FixtureRequest) -> str:
    """Both PostgreSQL isolation modes."""
    return str(request.param)
