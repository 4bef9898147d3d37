"""Django's ``showmigrations``, aware of which side an alias is on (see ``migrate`` here)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.showmigrations import Command as ShowMigrationsCommand

from tenant_app.scope import migration_scope_for_alias


class Command(ShowMigrationsCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        with migration_scope_for_alias(options["database"]):
            super().handle(*args, **options)
