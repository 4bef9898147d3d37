"""The peer: what django-tenants' ``migrate_schemas`` does, a full Django ``migrate`` per tenant.

django-tenants' standard executor loops over the tenants in one process; for each it closes the
connection, points it at the tenant, and runs Django's ``migrate`` command, which builds a
``MigrationLoader``/``MigrationExecutor``, checks the history, plans, applies what is pending
and emits the pre/post-migrate signals, whether or not anything is pending. This module does
the same over our registry (each tenant's alias is its connection), with Django's own
``migrate`` command class. System checks are skipped (``--skip-checks``), which only makes the
peer faster::

    python -m bench.peer            # in the fleet's environment; prints what migrate prints
"""

from __future__ import annotations

import sys

from bench.django_env import setup_example_project


def migrate_each_tenant() -> int:
    """Run Django's ``migrate`` for every registered tenant; returns the number of tenants."""
    setup_example_project()
    from django.core.management.commands.migrate import Command as MigrateCommand
    from django.db import connections

    from tenant_app.registry import TenantRegistry
    from tenant_app.scope import migration_scope

    registry = TenantRegistry()
    tenants = registry.all()
    # Only the tenant apps' migrations, as the router does for django-tenants' TENANT_APPS.
    with migration_scope(tenant=True):
        for tenant in tenants:
            alias = registry.register_alias(tenant)
            connections[alias].close()
            command = MigrateCommand(stdout=sys.stdout, stderr=sys.stderr)
            command.execute(
                database=alias,
                interactive=False,
                verbosity=1,
                skip_checks=True,
                app_label=None,
                migration_name=None,
                fake=False,
                fake_initial=False,
                plan=False,
                run_syncdb=False,
                check_unapplied=False,
                prune=False,
                no_color=True,
                force_color=False,
            )
            connections[alias].close()
    return len(tenants)


def main() -> None:
    count = migrate_each_tenant()
    print(f"Migrated {count} tenants, one full migrate each.")


if __name__ == "__main__":
    main()
