"""Database isolation: a PostgreSQL database per tenant, or an SQLite file per tenant."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tenant_app.backends.base import (
    TenantBackend,
    TenantStorageError,
    default_settings,
    is_postgresql,
    is_sqlite,
)


class DatabaseBackend(TenantBackend):
    """One database per tenant, on the control database's server with its credentials."""

    isolation = "database"

    @classmethod
    def default_db_name(cls, tenant_id: str, defaults: dict[str, Any]) -> str:
        if is_sqlite(defaults):
            return f"tenant-{tenant_id}.sqlite3"
        return tenant_id

    def adapt_settings(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry["NAME"] = str(self.sqlite_path()) if is_sqlite(entry) else self.db_name
        return entry

    def sqlite_path(self) -> Path:
        """The tenant's SQLite file: beside the control database's file."""
        return Path(default_settings()["NAME"]).resolve().parent / self.db_name

    def target(self) -> str:
        if is_sqlite(default_settings()):
            return f"sqlite {self.sqlite_path()}"
        return f"database {self.db_name}"

    def create(self) -> None:
        defaults = default_settings()
        if is_sqlite(defaults):
            path = self.sqlite_path()
            if path.exists():
                raise TenantStorageError(f"The SQLite file {path} already exists.")
            path.parent.mkdir(parents=True, exist_ok=True)
            sqlite3.connect(path).close()
            return
        if not is_postgresql(defaults):
            raise TenantStorageError(
                f"Database isolation is not supported on {defaults['ENGINE']}."
            )
        self._check_name()
        self._execute_ddl("CREATE DATABASE {}")

    def drop(self) -> None:
        if is_sqlite(default_settings()):
            self.sqlite_path().unlink(missing_ok=True)
            return
        self._execute_ddl("DROP DATABASE IF EXISTS {}")
