"""``migratealltenants``: every tenant (or a selection), a bounded number at a time, in-process.

Takes ``migrate``'s target (``[app_label] [migration_name]``: forwards, backwards, ``zero``)
and ``--fake`` / ``--fake-initial``, with the same meaning, for every tenant.

Up-to-date tenants are cheap: the migration graph is loaded and walked once for the target
(:class:`~tenant_app.planning.FleetPlanner`); per tenant one query reads ``django_migrations``
(schema tenants: a few hundred at a time in one query over the control connection, no
connection of their own), and only a tenant with something to apply or unapply runs
``migratetenant`` (in this process, in a worker thread with its own connections; it is handed
the tenant and the plan, and the worker's control connection stays open between tenants).
``--plan --json`` is the operator's discovery/planning Job: one ``TenantPlan`` line per tenant
(``tenant_app.contract``).
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connections

from tenant_app.arguments import tenant_id_list_argument
from tenant_app.contract import ExitCode, MigrationReport, ReportStatus, TenantPlan
from tenant_app.errors import (
    TenantCommandError,
    conflicting_migrations,
    database_unreachable,
    first_line,
    unknown_tenant,
)
from tenant_app.management.commands.migratetenant import Command as MigrateTenantCommand
from tenant_app.models import Tenant
from tenant_app.planning import SCHEMA_BATCH, FleetPlanner, TenantMigrationPlan, schema_tenants
from tenant_app.registry import TenantRegistry, TenantRegistryError
from tenant_app.scope import migration_scope


@dataclass
class Outcome:
    """What happened to one tenant."""

    tenant_id: str
    status: str  # "applied", "up_to_date", "planned", "failed", "skipped"
    exit_code: int = 0
    error: str | None = None
    pending: list[str] = field(default_factory=list)
    unapply: list[str] = field(default_factory=list)
    report: MigrationReport | None = None
    seconds: float = 0.0


class Command(BaseCommand):
    help = (
        "Migrate every tenant (or --tenant-ids) to the latest migrations or to a target, "
        "skipping up-to-date ones cheaply."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # The target and fake options mean what they mean to `migrate` (and `migratetenant`).
        parser.add_argument(
            "app_label",
            nargs="?",
            help="App label of an application to synchronize the state.",
        )
        parser.add_argument(
            "migration_name",
            nargs="?",
            help="Database state will be brought to the state after that migration. "
            'Use the name "zero" to unapply all migrations.',
        )
        parser.add_argument(
            "--fake",
            action="store_true",
            help="Mark migrations as run without actually running them.",
        )
        parser.add_argument(
            "--fake-initial",
            action="store_true",
            help="Detect if tables already exist and fake-apply initial migrations if so. "
            "Make sure that the current database schema matches your initial migration before "
            "using this flag.",
        )
        parser.add_argument("--parallel", type=int, default=1, help="Tenants at once (default 1).")
        parser.add_argument(
            "--continue-on-error",
            action="store_true",
            help="Go on after a tenant fails (default: start no new tenant after a failure).",
        )
        parser.add_argument(
            "--tenant-ids",
            type=tenant_id_list_argument,
            action="extend",
            default=None,
            # Repeatable, because one argument is capped at 128 KiB (the operator splits a
            # 10,000-tenant list over several).
            help="Only these tenants, comma-separated, in this order (repeatable).",
        )
        parser.add_argument(
            "--exclude",
            type=tenant_id_list_argument,
            action="extend",
            default=[],
            help="Leave out these tenants (comma-separated; repeatable).",
        )
        parser.add_argument(
            "--plan",
            action="store_true",
            help="Show what each tenant would apply or unapply; apply nothing.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="One JSON line per tenant ({'tenantPlan': ...} with --plan, else "
            "{'tenantResult': ...}) and a final {'summary': ...} line.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["parallel"] < 1:
            raise CommandError("--parallel must be at least 1.")
        self.json, self.plan = options["json"], options["plan"]
        self._options_lock = threading.Lock()
        self._parsed_options: dict[str, Any] | None = None
        self._control_connections: set[Any] = set()
        started = time.monotonic()
        selected = self._select(options["tenant_ids"], set(options["exclude"]))
        # Resolving the target fails here, with migrate's own error, before any tenant runs.
        planner = FleetPlanner(options["app_label"], options["migration_name"])
        if planner.conflicts:
            self._fail(conflicting_migrations())
        outcomes = self._run_all(selected, planner, options)
        self._summary(outcomes, time.monotonic() - started, options["plan"])
        if any(outcome.status == "failed" for outcome in outcomes):
            raise SystemExit(ExitCode.MIGRATION_FAILED)

    def _fail(self, error: TenantCommandError) -> None:
        for line in error.lines:
            self.stderr.write(line)
        raise SystemExit(error.exit_code)

    def _select(self, ids: list[str] | None, exclude: set[str]) -> list[tuple[str, Tenant | None]]:
        registry = TenantRegistry()
        try:
            if ids is None:
                found: list[tuple[str, Tenant | None]] = [
                    (tenant.tenant_id, tenant) for tenant in registry.all()
                ]
            else:
                by_id = {t.tenant_id: t for t in Tenant.objects.filter(tenant_id__in=ids)}
                found = [(tenant_id, by_id.get(tenant_id)) for tenant_id in dict.fromkeys(ids)]
        except (TenantRegistryError, DatabaseError):
            self._fail(database_unreachable())
        for _, tenant in found:
            if tenant is not None:
                registry.register_alias(tenant)
        return [(tenant_id, tenant) for tenant_id, tenant in found if tenant_id not in exclude]

    def _run_all(
        self,
        selected: list[tuple[str, Tenant | None]],
        planner: FleetPlanner,
        options: dict[str, Any],
    ) -> list[Outcome]:
        stop = threading.Event()
        outcomes: list[Outcome] = []
        total = len(selected)
        with migration_scope(tenant=True), ThreadPoolExecutor(options["parallel"]) as pool:
            futures = []
            # Schema tenants are planned a batch at a time over the control connection (here, in
            # this thread), the batch just before its tenants are queued; the rest one by one.
            for start in range(0, total, SCHEMA_BATCH):
                chunk = selected[start : start + SCHEMA_BATCH]
                plans = self._plan_schemas(chunk, planner, stop)
                futures += [
                    pool.submit(
                        self._one, tenant_id, tenant, planner, options, stop, plans.get(tenant_id)
                    )
                    for tenant_id, tenant in chunk
                ]
            try:
                for future in as_completed(futures):
                    outcome = future.result()
                    outcomes.append(outcome)
                    self._progress(len(outcomes), total, outcome)
            finally:
                pool.shutdown()
                self._close_control()
        return outcomes

    def _close_control(self) -> None:
        """Close the workers' control connections (their threads are done with them)."""
        for connection in self._control_connections:
            connection.inc_thread_sharing()
            try:
                connection.close()
            finally:
                connection.dec_thread_sharing()
        self._control_connections.clear()

    def _plan_schemas(
        self,
        chunk: list[tuple[str, Tenant | None]],
        planner: FleetPlanner,
        stop: threading.Event,
    ) -> dict[str, TenantMigrationPlan]:
        if stop.is_set():
            return {}
        schemas = schema_tenants(tenant_id for tenant_id, tenant in chunk if tenant is not None)
        return planner.plan_schemas(schemas)

    def _one(
        self,
        tenant_id: str,
        tenant: Tenant | None,
        planner: FleetPlanner,
        options: dict[str, Any],
        stop: threading.Event,
        plan: TenantMigrationPlan | None = None,
    ) -> Outcome:
        if stop.is_set():
            return Outcome(tenant_id, "skipped")
        started = time.monotonic()
        try:
            outcome = self._check_and_migrate(tenant_id, tenant, planner, options, plan)
        finally:
            # Worker threads are reused: never keep one connection per tenant open (and never
            # create one just to close it: a tenant planned in a batch has none). The worker's
            # control connection (registry, locks) stays open for its next tenant, unless
            # something failed, and is closed once the fleet is done (_close_control).
            if (tenant_connection := _open_in_this_thread(tenant_id)) is not None:
                tenant_connection.close()
            if (control := _open_in_this_thread(DEFAULT_DB_ALIAS)) is not None:
                with self._options_lock:
                    self._control_connections.add(control)
        outcome.seconds = time.monotonic() - started
        if outcome.status == "failed":
            connections[DEFAULT_DB_ALIAS].close()
        # Set here, in the worker, so the next tenant queued on this worker already sees it.
        # A plan is read-only: planning every tenant is the point even when some fail.
        if outcome.status == "failed" and not (options["continue_on_error"] or self.plan):
            stop.set()
        return outcome

    def _check_and_migrate(
        self,
        tenant_id: str,
        tenant: Tenant | None,
        planner: FleetPlanner,
        options: dict[str, Any],
        plan: TenantMigrationPlan | None,
    ) -> Outcome:
        if tenant is None:
            return _failed(tenant_id, unknown_tenant(tenant_id))
        try:
            if plan is None:
                plan = planner.plan(connections[tenant_id])
        except OperationalError:
            return _failed(tenant_id, database_unreachable())
        except DatabaseError as exc:
            return Outcome(tenant_id, "failed", ExitCode.MIGRATION_FAILED, first_line(str(exc)))
        if options["plan"]:
            return Outcome(tenant_id, "planned", pending=plan.apply, unapply=plan.unapply)
        if not plan:
            return Outcome(tenant_id, "up_to_date")
        command = MigrateTenantCommand(stdout=StringIO(), stderr=StringIO())
        tenant_options = {**self._tenant_options(options), "tenant_id": tenant_id}
        command.for_fleet(tenant, plan.labels())
        try:
            report = command.run(**tenant_options)
        except (CommandError, SystemExit) as exc:
            return Outcome(tenant_id, "failed", ExitCode.MIGRATION_FAILED, str(exc))
        status = "failed" if report.exit_code else str(report.status)
        return Outcome(
            tenant_id, status, report.exit_code, report.error, plan.apply, plan.unapply, report
        )

    def _tenant_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """``migratetenant``'s options for every tenant of this run (parsed once)."""
        with self._options_lock:
            if self._parsed_options is None:
                parser = MigrateTenantCommand().create_parser("manage.py", "migratetenant")
                args = ["--tenant-id=x", "--no-input", "-v", "0", "--skip-checks"]
                args += [options[name] for name in ("app_label", "migration_name") if options[name]]
                args += [
                    flag
                    for flag in ("--fake", "--fake-initial")
                    if options[flag[2:].replace("-", "_")]
                ]
                self._parsed_options = vars(parser.parse_args(args))
            return self._parsed_options

    def _progress(self, index: int, total: int, outcome: Outcome) -> None:
        if self.json:
            self.stdout.write(_json_line(outcome, self.plan))
            return
        if outcome.status == "skipped":
            return
        label = {
            "applied": self.style.SUCCESS("OK"),
            "up_to_date": "up to date",
            "planned": f"{steps} pending" if (steps := _steps(outcome)) else "up to date",
            "failed": self.style.ERROR(f"FAILED (exit {outcome.exit_code})"),
        }[outcome.status]
        self.stdout.write(
            f"[{index}/{total}] {outcome.tenant_id} ... {label} ({outcome.seconds:.1f}s)"
        )
        if outcome.status == "failed" and outcome.error:
            self.stdout.write(f"    {outcome.error}")
        if outcome.status == "planned":
            for name in outcome.pending:
                self.stdout.write(f"    {name}.py")
            for name in outcome.unapply:
                self.stdout.write(f"    {name}.py (unapply)")

    def _summary(self, outcomes: list[Outcome], seconds: float, plan: bool) -> None:
        counts = {
            status: sum(1 for o in outcomes if o.status == status)
            for status in ("applied", "up_to_date", "planned", "failed", "skipped")
        }
        failed = [o.tenant_id for o in outcomes if o.status == "failed"]
        skipped = [o.tenant_id for o in outcomes if o.status == "skipped"]
        if self.json:
            summary = {"tenants": len(outcomes), **counts, "failed_tenants": failed}
            summary |= {"skipped_tenants": skipped, "seconds": round(seconds, 3)}
            self.stdout.write(json.dumps({"summary": summary}, separators=(",", ":")))
            return
        if plan:
            with_pending = sum(1 for o in outcomes if o.status == "planned" and _steps(o))
            parts = [f"{with_pending} with pending migrations", f"{counts['failed']} failed"]
        else:
            parts = [
                f"{counts['applied']} migrated",
                f"{counts['up_to_date']} up to date",
                f"{counts['failed']} failed",
            ]
        if skipped:
            parts.append(f"{len(skipped)} skipped after a failure")
        self.stdout.write(f"Summary: {len(outcomes)} tenants: {', '.join(parts)} ({seconds:.1f}s).")
        if failed:
            self.stdout.write(self.style.ERROR(f"Failed tenants: {', '.join(failed)}"))


def _open_in_this_thread(alias: str) -> Any:
    """This thread's connection object of ``alias`` if it made one, else ``None``.

    Not ``connections.all(initialized_only=True)``: that walks every registered alias (the
    whole fleet) for each tenant.
    """
    return getattr(connections._connections, alias, None)  # type: ignore[attr-defined]


def _steps(outcome: Outcome) -> int:
    return len(outcome.pending) + len(outcome.unapply)


def _failed(tenant_id: str, error: TenantCommandError) -> Outcome:
    return Outcome(tenant_id, "failed", error.exit_code, error.summary)


def _json_line(outcome: Outcome, plan: bool) -> str:
    if outcome.status == "skipped":  # not run at all
        return json.dumps({"skipped": outcome.tenant_id})
    if plan:
        return TenantPlan(
            outcome.tenant_id, outcome.pending, outcome.exit_code, outcome.error, outcome.unapply
        ).to_line()
    if outcome.report is not None:
        return outcome.report.to_line()
    status = ReportStatus.FAILED if outcome.status == "failed" else ReportStatus.UP_TO_DATE
    report = MigrationReport(
        outcome.tenant_id, status, outcome.exit_code, error=outcome.error, seconds=outcome.seconds
    )
    return report.to_line()
