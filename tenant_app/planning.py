"""What is pending for a tenant: Django's target rules, and a cheap check for whole fleets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import AmbiguityError, MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from tenant_app.backends.base import is_postgresql
from tenant_app.scope import TENANT_SETTINGS_KEY, migration_scope

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

    Only planning needs this (``migratetenant --plan`` prints the plan in our format,
    ``migratealltenants`` plans a fleet with :class:`FleetPlanner`); applying goes through
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


@dataclass
class TenantMigrationPlan:
    """What ``migrate`` would do to one tenant: labels to apply and to unapply, in order.

    A plan towards one target only goes one way, so the two lists lose no ordering.
    """

    apply: list[str] = field(default_factory=list)
    unapply: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.apply or self.unapply)

    def labels(self) -> list[str]:
        """Every step, unapply entries marked: ``users/0002_alter_user_email (unapply)``."""
        return self.apply + [f"{label} (unapply)" for label in self.unapply]


def plan_from(executor: MigrationExecutor, targets: list[Target]) -> TenantMigrationPlan:
    """Django's own ``migration_plan`` for ``targets``, split into apply and unapply labels."""
    plan = TenantMigrationPlan()
    for migration, backwards in executor.migration_plan(targets):
        (plan.unapply if backwards else plan.apply).append(migration_label(migration))
    return plan


@dataclass(frozen=True)
class _TargetWalk:
    """The graph walks ``MigrationExecutor.migration_plan`` makes for one target, done once.

    ``forwards``: the target's forwards plan, taken when the target is not applied.
    ``backwards``: the backwards plans of the target's children in its app (of the app's roots
    for ``zero``), taken when the target is applied (always for ``zero``).
    """

    target: Target
    forwards: tuple[Key, ...]
    backwards: tuple[Key, ...]

    @classmethod
    def of(cls, graph: Any, target: Target) -> _TargetWalk:
        app_label, name = target
        if name is None:
            starts = [root for root in graph.root_nodes() if root[0] == app_label]
            forwards: tuple[Key, ...] = ()
        else:
            key: Key = (app_label, name)
            starts = sorted(n for n in graph.node_map[key].children if n[0] == app_label)
            forwards = tuple(graph.forwards_plan(key))
        backwards = tuple(step for start in starts for step in graph.backwards_plan(start))
        return cls(target, forwards, backwards)


class FleetPlanner:
    """What ``migrate [app_label] [migration_name]`` would do to each tenant of a fleet, cheaply.

    The migration graph is loaded and walked once, here, for the whole fleet; ``plan(connection)``
    then costs one query per tenant (its ``django_migrations`` rows) and set lookups, no
    executor: that is what makes up-to-date tenants cheap to skip. ``plan_schemas`` reads
    those rows for many schema-isolated tenants at once over the control connection.
    The plan is Django's own (``MigrationExecutor.migration_plan``): forwards, backwards,
    ``zero``. The shared graph is
    the one Django builds when each squashed migration is applied wholly or not at all; a
    tenant with a partly applied squash (rare) is planned with its own executor, as ``migrate``
    would. Resolving the target raises Django's ``CommandError`` (unknown app label, unknown
    migration) at construction, before any tenant is touched.
    """

    def __init__(self, app_label: str | None = None, migration_name: str | None = None) -> None:
        self.app_label, self.migration_name = app_label, migration_name
        with migration_scope(tenant=True):
            self.loader = MigrationLoader(None, ignore_no_migrations=True)
        graph = self.loader.graph
        self.conflicts = self.loader.detect_conflicts()
        self.walks: list[_TargetWalk] | None = []
        if self.conflicts:
            return
        targets = resolve_targets(self.loader, app_label, migration_name)
        if any(name is not None and (app, name) not in graph.node_map for app, name in targets):
            self.walks = None  # a replaced migration as the target: Django rebuilds the graph
        else:
            self.walks = [_TargetWalk.of(graph, target) for target in targets]

    def plan(self, connection: BaseDatabaseWrapper) -> TenantMigrationPlan:
        """Exactly what ``migrate`` would apply or unapply on this tenant, in order."""
        if self.walks is None:
            return self._plan_with_executor(connection)
        applied = set(MigrationRecorder(connection).applied_migrations())
        plan = self.plan_applied(applied)
        return self._plan_with_executor(connection) if plan is None else plan

    def plan_applied(self, applied: set[Key]) -> TenantMigrationPlan | None:
        """The plan for a tenant whose ``django_migrations`` holds ``applied`` (changed here).

        ``None`` when the shared graph cannot answer (a replaced migration as the target, a
        partly applied squash): then the tenant needs its own executor, :meth:`plan` does that.
        """
        if self.walks is None:
            return None
        for key, migration in self.loader.replacements.items():
            statuses = [target in applied for target in migration.replaces]
            if any(statuses) and not all(statuses):
                return None
            # As the loader does: a squashed migration counts as applied when all it replaces is.
            if all(statuses):
                applied.add(key)
            else:
                applied.discard(key)
        plan = TenantMigrationPlan()
        for walk in self.walks:
            if walk.target[1] is None or walk.target in applied:
                for key in walk.backwards:
                    if key in applied:
                        plan.unapply.append(migration_label(key))
                        applied.discard(key)
            else:
                for key in walk.forwards:
                    if key not in applied:
                        plan.apply.append(migration_label(key))
                        applied.add(key)
        return plan

    def plan_schemas(self, schemas: dict[str, str]) -> dict[str, TenantMigrationPlan]:
        """Plans of schema-isolated tenants (``{tenant_id: schema}``), read over the control
        connection: a few queries for a whole batch instead of a connection per tenant.

        Returns the tenants it could plan; a tenant left out (the shared graph cannot answer
        for it, or a batch query failed, e.g. a schema that vanished) is planned one by one
        with :meth:`plan` on its own connection, which reports its error as before.
        """
        plans: dict[str, TenantMigrationPlan] = {}
        if self.walks is None or not schemas:
            return plans
        try:
            applied = read_applied_in_schemas(connections[DEFAULT_DB_ALIAS], schemas)
        except DatabaseError:
            return plans
        for tenant_id, keys in applied.items():
            plan = self.plan_applied(keys)
            if plan is not None:
                plans[tenant_id] = plan
        return plans

    def _plan_with_executor(self, connection: BaseDatabaseWrapper) -> TenantMigrationPlan:
        with migration_scope(tenant=True):
            executor = MigrationExecutor(connection)
            targets = resolve_targets(executor.loader, self.app_label, self.migration_name)
            return plan_from(executor, targets)


# Schemas per query of :func:`read_applied_in_schemas`: one statement of a few hundred
# ``UNION ALL`` branches stays well below PostgreSQL's limits and plans in a few milliseconds.
SCHEMA_BATCH = 250


def schema_of_alias(alias: str) -> str | None:
    """The schema behind a tenant alias whose connection is the control database's plus a
    ``search_path`` (schema isolation); ``None`` for any other alias."""
    entry = connections.settings[alias]
    control = connections.settings[DEFAULT_DB_ALIAS]
    marker = entry.get(TENANT_SETTINGS_KEY) or {}
    if marker.get("isolation") != "schema" or not is_postgresql(control):
        return None
    same = ("ENGINE", "NAME", "HOST", "PORT", "USER")
    if any(entry.get(key) != control.get(key) for key in same):
        return None
    return str(marker["db_name"])


def read_applied_in_schemas(
    connection: BaseDatabaseWrapper, schemas: dict[str, str], batch: int = SCHEMA_BATCH
) -> dict[str, set[Key]]:
    """Every tenant's ``django_migrations`` rows, ``{tenant_id: {(app, name), ...}}``, read
    over one (the control) connection: what ``MigrationRecorder.applied_migrations`` returns
    on the tenant's own connection, a schema without the table (or without the schema itself)
    meaning nothing applied.

    One query finds which schemas have the table, then one ``UNION ALL`` query per ``batch``
    schemas reads them. Schema names reach SQL only through ``quote_name``; tenant ids and
    schema names as values are parameters. Raises ``DatabaseError`` as the queries do.
    """
    applied: dict[str, set[Key]] = {tenant_id: set() for tenant_id in schemas}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'p', 'v') "
            "AND n.nspname = ANY(%s)",
            [sorted(set(schemas.values()))],
        )
        with_table = {row[0] for row in cursor.fetchall()}
        present = [(t, s) for t, s in schemas.items() if s in with_table]
        for start in range(0, len(present), batch):
            chunk = present[start : start + batch]
            statement = " UNION ALL ".join(
                f"SELECT %s, app, name FROM {_table(connection, schema)}" for _, schema in chunk
            )
            cursor.execute(statement, [tenant_id for tenant_id, _ in chunk])
            for tenant_id, app, name in cursor.fetchall():
                applied[tenant_id].add((app, name))
    return applied


def schema_tenants(aliases: Iterable[str]) -> dict[str, str]:
    """``{alias: schema}`` for the aliases :func:`schema_of_alias` can read over the control
    connection."""
    found = {}
    for alias in aliases:
        schema = schema_of_alias(alias)
        if schema is not None:
            found[alias] = schema
    return found


def _table(connection: BaseDatabaseWrapper, schema: str) -> str:
    """``"schema"."django_migrations"``, quoted by psycopg (any character is safe)."""
    try:
        from psycopg import sql
    except ImportError:  # psycopg2: Django's quote_name, for names without a double quote
        if '"' in schema:
            raise DatabaseError(f"Cannot quote the schema name {schema!r}.") from None
        return f"{connection.ops.quote_name(schema)}.django_migrations"
    return sql.Identifier(schema, "django_migrations").as_string(connection.connection)
