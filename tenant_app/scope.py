"""Which apps live where: tenant apps in every tenant, all other apps in the control database.

Settings:

* ``TENANT_APPS``: app labels migrated into each tenant (e.g. ``["users", "products", "orders"]``).
  Every other installed app with migrations (``tenant_app`` itself, the registry) lives in the
  control (``default``) database only.

Two mechanisms apply the split. :class:`tenant_app.routers.TenantRouter` keeps each app's
tables on its side. :func:`migration_scope` hides the other side's migrations from Django's
migration loader (through ``MIGRATION_MODULES``), so ``migrate``/``showmigrations`` on a tenant
only list and record tenant apps, and on the control database only the shared ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

TENANT_SETTINGS_KEY = "TENANT"


def tenant_app_labels() -> frozenset[str]:
    """The labels in ``settings.TENANT_APPS``."""
    return frozenset(getattr(settings, "TENANT_APPS", ()))


def tenant_id_of_alias(alias: str) -> str | None:
    """The tenant id behind a database alias, or ``None`` for a non-tenant alias."""
    if alias == DEFAULT_DB_ALIAS:
        return None
    entry = connections.settings.get(alias) if alias in connections.settings else None
    marker = (entry or {}).get(TENANT_SETTINGS_KEY)
    return marker["tenant_id"] if marker else None


_lock = threading.Lock()
_depth: dict[str, int] = {"tenant": 0, "control": 0}
_saved: dict[str, object] = {}


@contextmanager
def migration_scope(tenant: bool) -> Iterator[None]:
    """Hide the other side's migrations from the migration loader while inside.

    Re-entrant and shared by threads (``migratealltenants`` runs tenants in parallel): the first
    entry installs the override, the last exit restores ``MIGRATION_MODULES``. Tenant and control
    scopes cannot be mixed in one process at the same time.
    """
    kind, other = ("tenant", "control") if tenant else ("control", "tenant")
    with _lock:
        if _depth[other]:
            raise RuntimeError("tenant and control migration scopes cannot overlap")
        if _depth[kind] == 0:
            _saved["modules"] = getattr(settings, "MIGRATION_MODULES", {})
            settings.MIGRATION_MODULES = {**_saved["modules"], **_hidden_modules(tenant)}  # type: ignore[dict-item]
        _depth[kind] += 1
    try:
        yield
    finally:
        with _lock:
            _depth[kind] -= 1
            if _depth[kind] == 0:
                settings.MIGRATION_MODULES = _saved.pop("modules")


@contextmanager
def migration_scope_for_alias(alias: str) -> Iterator[None]:
    """:func:`migration_scope` for the side the database alias belongs to.

    Raises ``CommandError`` for an alias that is neither configured nor a registered tenant
    (a tenant id named on the command line passes argparse before it can be looked up).
    """
    from django.core.management.base import CommandError

    if alias not in connections.settings:
        raise CommandError(f"Database '{alias}' is neither configured nor a registered tenant.")
    with migration_scope(tenant=tenant_id_of_alias(alias) is not None):
        yield


def _hidden_modules(tenant: bool) -> dict[str, None]:
    # A None module makes the loader treat the app as having no migrations.
    labels = tenant_app_labels()
    return {
        config.label: None
        for config in apps.get_app_configs()
        if (config.label in labels) != tenant
    }
