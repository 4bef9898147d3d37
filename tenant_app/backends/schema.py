"""Schema isolation: one PostgreSQL schema per tenant in the control database."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from tenant_app.backends.base import (
    TenantBackend,
    TenantStorageError,
    default_settings,
    is_postgresql,
)


class SchemaBackend(TenantBackend):
    """The tenant's connection has ``search_path`` set to the tenant schema and nothing else.

    Only that schema: were ``public`` on the path, the tenant connection would find the control
    database's ``django_migrations`` there and believe its migrations applied.
    """

    isolation = "schema"

    def adapt_settings(self, entry: dict[str, Any]) -> dict[str, Any]:
        options = dict(entry.get("OPTIONS") or {})
        quoted = connections[DEFAULT_DB_ALIAS].ops.quote_name(self.db_name)
        # libpq passes "options" to the server as command-line switches, whitespace-separated;
        # tenant ids have no whitespace and the identifier is double-quoted for search_path.
        extra = f"-c search_path={quoted}"
        options["options"] = f"{options['options']} {extra}" if options.get("options") else extra
        entry["OPTIONS"] = options
        return entry

    def check_supported(self) -> None:
        engine = default_settings()["ENGINE"]
        if not is_postgresql(default_settings()):
            raise TenantStorageError(
                f"Schema isolation needs PostgreSQL; the control database uses {engine}. "
                "Use --isolation=database, or set DATABASE_URL to a PostgreSQL database."
            )

    def target(self) -> str:
        return f"schema {self.db_name}"

    def create(self) -> None:
        self.check_supported()
        self._check_name()
        self._execute_ddl("CREATE SCHEMA {}")

    def drop(self) -> None:
        self._execute_ddl("DROP SCHEMA IF EXISTS {} CASCADE")
