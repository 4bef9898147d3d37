"""Where a benchmark fleet lives, and how a pristine copy of it is made for each run.

A fleet is made once per size (:mod:`bench.fleet` in a child process: control database
migrated, tenants registered, nothing applied) and kept as a template; every measured run that
changes the fleet gets its own copy, so each side starts from the same state:

* SQLite (database isolation): a data directory (control file + one file per tenant), copied.
* PostgreSQL (schema isolation): a control database with one schema per tenant, copied with
  ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import history as synthetic
from bench.django_env import EXAMPLE, REPO
from bench.runner import run_command

if TYPE_CHECKING:
    from tests.conftest import PostgresServer

# Variables of the caller's shell that would point the children elsewhere.
_SCRUBBED = ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "TENANT_MIGRATE_REPORT", "PYTHONPATH")


def child_env(history_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of every child: ours, the peer's and the fleet builder's alike.

    ``history_dir``: a synthetic migration history (:mod:`bench.history`) to add to the project.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    paths = [str(REPO), str(EXAMPLE)]
    if history_dir is not None:
        paths.insert(0, str(history_dir))
        env["DJANGO_SETTINGS_MODULE"] = synthetic.SETTINGS
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env | extra


@dataclass(frozen=True)
class Fleet:
    """One copy of a fleet: the environment that points the example project at it."""

    name: str
    env: dict[str, str]


class FleetStore(ABC):
    """Templates and copies of fleets on one backend."""

    backend = ""
    isolation = ""

    def __init__(self, history: int = 0) -> None:
        """``history``: the length of a synthetic migration history added to the project
        (:mod:`bench.history`); 0 for the example project as it is."""
        self._templates: dict[int, Fleet] = {}
        self.history = history
        self.history_dir = synthetic.generate(history) if history else None

    def env(self, **extra: str) -> dict[str, str]:
        """The children's environment for a fleet of this store."""
        return child_env(self.history_dir, **extra)

    def template(self, tenants: int) -> Fleet:
        """The pristine fleet of this size (created on first use)."""
        if tenants not in self._templates:
            fleet = self._new_empty(f"bench_tmpl_{tenants}_h{self.history}")
            argv = [sys.executable, "-m", "bench.fleet", f"--tenants={tenants}"]
            run_command([*argv, f"--isolation={self.isolation}"], fleet.env, REPO)
            self._templates[tenants] = fleet
        return self._templates[tenants]

    @abstractmethod
    def _new_empty(self, name: str) -> Fleet:
        """An empty control database named after ``name``."""

    @abstractmethod
    def copy(self, tenants: int) -> Fleet:
        """A fresh copy of the pristine fleet of this size."""

    @abstractmethod
    def discard(self, fleet: Fleet) -> None:
        """Remove a copy."""

    def close(self) -> None:
        """Remove everything this store created."""
        if self.history_dir is not None:
            synthetic.remove(self.history_dir)


class SqliteStore(FleetStore):
    """Fleets as data directories under one temporary directory."""

    backend = "sqlite"
    isolation = "database"

    def __init__(self, history: int = 0) -> None:
        super().__init__(history)
        self.base = Path(tempfile.mkdtemp(prefix="tenantops-bench-"))

    def _new_empty(self, name: str) -> Fleet:
        path = self.base / name
        path.mkdir()
        return Fleet(name, self.env(TENANTOPS_DATA_DIR=str(path)))

    def copy(self, tenants: int) -> Fleet:
        source = Path(self.template(tenants).env["TENANTOPS_DATA_DIR"])
        name = f"fleet_{uuid.uuid4().hex[:10]}"
        shutil.copytree(source, self.base / name)
        return Fleet(name, self.env(TENANTOPS_DATA_DIR=str(self.base / name)))

    def discard(self, fleet: Fleet) -> None:
        shutil.rmtree(fleet.env["TENANTOPS_DATA_DIR"], ignore_errors=True)

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.base, ignore_errors=True)


class PostgresStore(FleetStore):
    """Fleets as control databases on one server, each tenant a schema in it."""

    backend = "postgresql"
    isolation = "schema"

    def __init__(self, server: PostgresServer, history: int = 0) -> None:
        super().__init__(history)
        self.server = server

    def _fleet(self, name: str) -> Fleet:
        # With DATABASE_URL the example project touches no local files (locks are advisory).
        return Fleet(name, self.env(DATABASE_URL=self.server.url_for(name)))

    def _new_empty(self, name: str) -> Fleet:
        self.server.create_database(name)
        return self._fleet(name)

    def copy(self, tenants: int) -> Fleet:
        from psycopg import sql

        template = self.template(tenants).name
        name = f"fleet_{uuid.uuid4().hex[:10]}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
        self.server.execute(statement.format(sql.Identifier(name), sql.Identifier(template)))
        return self._fleet(name)

    def discard(self, fleet: Fleet) -> None:
        self.server.drop_database(fleet.name)

    def close(self) -> None:
        """The copies are discarded one by one, the server goes with its data."""
        super().close()
