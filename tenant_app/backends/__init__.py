"""Isolation backends: how a tenant's connection settings derive and how its storage is created.

* :class:`~tenant_app.backends.database.DatabaseBackend`: a database of its own (PostgreSQL), or
  an SQLite file beside the control database (the embedded default).
* :class:`~tenant_app.backends.schema.SchemaBackend`: a schema in the control database
  (PostgreSQL only), reached through a connection whose ``search_path`` is that schema alone.
"""

from __future__ import annotations

from typing import Any

from tenant_app.backends.base import TenantBackend, TenantStorageError, default_settings
from tenant_app.backends.database import DatabaseBackend
from tenant_app.backends.schema import SchemaBackend

__all__ = [
    "DatabaseBackend",
    "SchemaBackend",
    "TenantBackend",
    "TenantStorageError",
    "backend_for",
]


def backend_for(isolation: str, tenant_id: str, db_name: str | None = None) -> TenantBackend:
    """The backend for an isolation mode; ``db_name`` defaults to the one derived from the id."""
    backends: dict[str, type[TenantBackend]] = {
        "database": DatabaseBackend,
        "schema": SchemaBackend,
    }
    try:
        cls = backends[isolation]
    except KeyError:
        raise TenantStorageError(
            f"Unknown isolation {isolation!r}: use 'database' or 'schema'."
        ) from None
    defaults: dict[str, Any] = default_settings()
    return cls(tenant_id, db_name or cls.default_db_name(tenant_id, defaults))
