"""App configuration: makes tenant ids usable as database aliases once Django is set up."""

from __future__ import annotations

import sys

from django.apps import AppConfig


class TenantAppConfig(AppConfig):
    name = "tenant_app"
    label = "tenant_app"
    verbose_name = "Tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenant_app.connections import announce_aliases_from_argv, install_tenant_databases

        install_tenant_databases()
        # Django's commands build `--database` with choices=tuple(connections) before any of our
        # code runs, so the alias named on this command line must be listed (not yet resolved:
        # no queries while apps are still loading).
        announce_aliases_from_argv(sys.argv)
