"""What every isolation backend provides."""

from __future__ import annotations

import copy
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from tenant_app.scope import TENANT_SETTINGS_KEY

# Names a tenant's database or schema must never take: they belong to PostgreSQL itself.
RESERVED_NAMES = frozenset({"postgres", "template0", "template1", "public", "information_schema"})


class TenantStorageError(Exception):
    """The tenant's database or schema cannot be created (or removed); the message says why."""


def default_settings() -> dict[str, Any]:
    """The control database's settings (with Django's defaults filled in)."""
    return connections.settings[DEFAULT_DB_ALIAS]


def is_postgresql(db_settings: dict[str, Any]) -> bool:
    return "postgresql" in db_settings["ENGINE"]


def is_sqlite(db_settings: dict[str, Any]) -> bool:
    return "sqlite3" in db_settings["ENGINE"]


class TenantBackend:
    """Base class: derive connection settings, create and drop a tenant's storage."""

    isolation = ""

    def __init__(self, tenant_id: str, db_name: str) -> None:
        self.tenant_id = tenant_id
        self.db_name = db_name

    @classmethod
    def default_db_name(cls, tenant_id: str, defaults: dict[str, Any]) -> str:
        """The database, schema or file name a new tenant gets."""
        return tenant_id

    def connection_settings(self, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """A ``DATABASES`` entry for the tenant, derived from the control database's."""
        entry = copy.deepcopy(defaults if defaults is not None else default_settings())
        entry[TENANT_SETTINGS_KEY] = {
            "tenant_id": self.tenant_id,
            "isolation": self.isolation,
            "db_name": self.db_name,
        }
        return self.adapt_settings(entry)

    def adapt_settings(self, entry: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def check_supported(self) -> None:
        """Raise :class:`TenantStorageError` when the control database cannot host this mode."""

    def target(self) -> str:
        """Where the tenant lives, for people: ``database acme``, ``schema acme``, a file."""
        raise NotImplementedError

    def create(self) -> None:
        """Create the tenant's database, schema or file; refuse when it already exists."""
        raise NotImplementedError

    def drop(self) -> None:
        """Remove the tenant's storage (used to undo a failed ``createtenant``)."""
        raise NotImplementedError

    def _check_name(self) -> None:
        control = default_settings()
        if self.db_name in RESERVED_NAMES or self.db_name == control.get("NAME"):
            raise TenantStorageError(
                f"The name {self.db_name!r} is reserved; choose another tenant id."
            )

    def _execute_ddl(self, template: str) -> None:
        """Run ``CREATE``/``DROP`` of the tenant's database or schema on the control connection.

        The name reaches SQL only through the backend's ``quote_name``. Django runs in
        autocommit, which ``CREATE DATABASE`` needs (it cannot run inside a transaction).
        """
        connection = connections[DEFAULT_DB_ALIAS]
        statement = template.format(connection.ops.quote_name(self.db_name))
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        except DatabaseError as exc:
            raise TenantStorageError(
                f"Cannot create or drop {self.isolation} {self.db_name!r}: {exc}".strip()
            ) from exc
