"""What is pending for a tenant: Django's target rules, and a cheap check for whole fleets."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import AmbiguityError, MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from tenant_app.scope import migration_scope

Key = tuple[str, str]
Target = tuple[str, str | None]


def migration_label(migration: Any) -> str:
    """``users/0002_alter_user_email`` for a migration or a ``(app, name)`` key."""
    if isinstance(migration, tuple):
        return f"{migration[0]}/{migration[1]}"
    return f"{migration.app_label}/{migration.name}"


def resolve_targets(
    loader: MigrationLoader, app_label: str | None, migration_name: str | None
) -> list[Target]:
    """The targets ``migrate [app_label] [migration_name]`` means, with Django's own rules/errors.

    Only ``--plan`` needs this (it prints the plan in our format); applying goes through
    Django's ``migrate`` unchanged.
    """
    if not app_label:
        return list(loader.graph.leaf_nodes())
    try:
        apps.get_app_config(app_label)
    except LookupError as err:
        raise CommandError(str(err)) from err
    if app_label not in loader.migrated_apps:
        raise CommandError(f"App '{app_label}' does not have migrations.")
    if not migration_name:
        return [key for key in loader.graph.leaf_nodes() if key[0] == app_label]
    if migration_name == "zero":
        return [(app_label, None)]
    try:
        migration = loader.get_migration_by_prefix(app_label, migration_name)
    except AmbiguityError:
        raise CommandError(
            f"More than one migration matches '{migration_name}' in app '{app_label}'. "
            "Please be more specific."
        ) from None
    except KeyError:
        raise CommandError(
            f"Cannot find a migration matching '{migration_name}' from app '{app_label}'."
        ) from None
    target: Key = (app_label, migration.name)
    if target not in loader.graph.nodes and target in loader.replacements:
        # A partially applied squashed migration is not in the graph: use its last replacement.
        target = loader.replacements[target].replaces[-1]
    return [target]


class FleetPlanner:
    """Every tenant migration in apply order, computed once from disk for a whole fleet.

    ``pending(connection)`` then costs one query per tenant (the ``django_migrations`` rows) and
    no migration graph or executor: that is what makes up-to-date tenants cheap to skip.
    """

    def __init__(self) -> None:
        with migration_scope(tenant=True):
            loader = MigrationLoader(None, ignore_no_migrations=True)
        self.conflicts = loader.detect_conflicts()
        self.order: list[Key] = []
        seen: set[Key] = set()
        for leaf in sorted(loader.graph.leaf_nodes()):
            for key in loader.graph.forwards_plan(leaf):
                if key not in seen:
                    seen.add(key)
                    self.order.append(key)
        self.replaces: dict[Key, list[Key]] = {
            key: list(loader.graph.nodes[key].replaces or []) for key in self.order
        }

    def pending_for(self, applied: set[Key]) -> list[str]:
        """Labels of the migrations not applied, in apply order."""
        return [
            migration_label(key)
            for key in self.order
            if key not in applied
            and not (self.replaces[key] and all(r in applied for r in self.replaces[key]))
        ]

    def pending(self, connection: BaseDatabaseWrapper) -> list[str]:
        """The tenant's pending migrations, read with the recorder (one or two queries)."""
        applied = set(MigrationRecorder(connection).applied_migrations())
        return self.pending_for(applied)
