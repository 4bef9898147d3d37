"""Django's ``migrate``, aware of which side an alias is on.

``migrate`` (the control database) sees only the shared apps' migrations and ``migrate
--database=acme`` only ``TENANT_APPS``' (see :mod:`tenant_app.scope`). Everything else is
Django's. It overrides the core command because app commands take precedence over Django's.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as MigrateCommand

from tenant_app.scope import migration_scope_for_alias


class Command(MigrateCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        with migration_scope_for_alias(options["database"]):
            super().handle(*args, **options)
