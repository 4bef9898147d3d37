"""Reach a tenant or fail with the documented error: unknown (3) or unreachable (4)."""

from __future__ import annotations

from django.db import DatabaseError, OperationalError, connections

from tenant_app.errors import database_unreachable, registry_unavailable, unknown_tenant
from tenant_app.models import Tenant
from tenant_app.registry import TenantRegistry, TenantRegistryError


def connect_tenant(tenant_id: str, tenant: Tenant | None = None) -> Tenant:
    """Look the tenant up (unless the caller has it: ``tenant``), register its alias and open
    its connection.

    Raises ``TenantCommandError`` with the DESIGN.md message and exit code.
    """
    registry = TenantRegistry()
    if tenant is not None:
        return _connect(registry, tenant)
    try:
        tenant = registry.find(tenant_id)
    except TenantRegistryError as exc:
        # SQLite reports a missing table as an OperationalError too: that is "not migrated".
        cause = exc.__cause__
        if isinstance(cause, OperationalError) and "no such table" not in str(cause):
            raise database_unreachable() from exc
        raise registry_unavailable(str(exc)) from exc
    if tenant is None:
        raise unknown_tenant(tenant_id)
    return _connect(registry, tenant)


def _connect(registry: TenantRegistry, tenant: Tenant) -> Tenant:
    alias = registry.register_alias(tenant)
    try:
        connections[alias].ensure_connection()
    except DatabaseError as exc:
        raise database_unreachable() from exc
    return tenant
