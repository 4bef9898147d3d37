"""Database router: tenant apps' tables only in tenants, every other app only in control."""

from __future__ import annotations

from typing import Any

from tenant_app.scope import tenant_app_labels, tenant_id_of_alias


class TenantRouter:
    """Add ``"tenant_app.routers.TenantRouter"`` to ``DATABASE_ROUTERS``.

    Reads and writes are left to the caller (``Model.objects.using("acme")``): which tenant a
    request belongs to is the application's business, not the migration tooling's.
    """

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        is_tenant_app = app_label in tenant_app_labels()
        return is_tenant_app == (tenant_id_of_alias(db) is not None)
