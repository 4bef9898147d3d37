"""``migratetenant``: Django's ``migrate`` for one tenant, with documented output and exit codes.

Every option of the installed Django's ``migrate`` is inherited (``add_arguments`` of the parent);
applying goes through the parent's ``handle`` unchanged. This command adds the tenant: lookup,
connection, migration scope (only ``TENANT_APPS``), the per-tenant lock, the tenant-aware output,
error classification into exit codes 1-7, and the JSON report.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from tenant_app.access import connect_tenant
from tenant_app.arguments import tenant_id_argument
from tenant_app.contract import ExitCode, MigrationReport, ReportStatus
from tenant_app.errors import (
    TenantCommandError,
    conflicting_migrations,
    database_unreachable,
    first_line,
    is_privilege_error,
    migration_failed,
    no_privilege,
)
from tenant_app.locking import tenant_lock
from tenant_app.models import Tenant
from tenant_app.planning import migration_label, plan_from, resolve_targets
from tenant_app.report import report_path, write_report
from tenant_app.scope import migration_scope


class Command(MigrateCommand):
    help = (
        "Apply (or plan, fake, unapply) the migrations of one tenant. Takes every option of "
        "'migrate'; --database is the tenant's own and cannot be given."
    )

    # Set by ``migratealltenants`` (:meth:`for_fleet`), never from the command line: what the
    # fleet run already knows, so each tenant does not look it up or work it out again.
    _known_tenant: Tenant | None = None
    _known_plan: list[str] | None = None

    def for_fleet(self, tenant: Tenant, planned: list[str]) -> Command:
        """Run for a tenant of a fleet: ``tenant`` as loaded from the registry, ``planned``
        as :class:`~tenant_app.planning.FleetPlanner` planned it (``labels()``); the fleet has
        checked for conflicting migrations. Returns the command."""
        self._known_tenant, self._known_plan = tenant, planned
        return self

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--tenant-id", required=True, type=tenant_id_argument, help="The tenant to migrate."
        )
        parser.add_argument(
            "--report-file",
            default=None,
            help="Write the JSON result here (at most 4096 bytes), e.g. /dev/termination-log. "
            "Default: $TENANT_MIGRATE_REPORT.",
        )

    def execute(self, *args: Any, **options: Any) -> str | None:
        """Run, write the report, and end with the exit code of the outcome."""
        report = self.run(*args, **options)
        if report.exit_code:
            sys.exit(report.exit_code)
        return None

    def run(self, *args: Any, **options: Any) -> MigrationReport:
        """Migrate the tenant; never exits. Used in-process by ``migratealltenants`` too.

        Django's own ``CommandError`` (a bad app label, ``--prune`` without one) is re-raised
        after the report is written, so it prints and exits as in ``migrate``.
        """
        tenant_id: str = options["tenant_id"]
        self._reset(options)
        started = time.monotonic()
        report = MigrationReport(tenant=tenant_id, status=ReportStatus.FAILED)
        try:
            self._run_tenant(tenant_id, args, options)
            report.exit_code = ExitCode.OK
        except TenantCommandError as err:
            self._finish_progress_line()
            for line in err.lines:
                self.stderr.write(line)
            report.exit_code, report.error = err.exit_code, err.summary
        except (CommandError, SystemExit) as err:
            # CommandError: Django's usage errors; SystemExit(1): `--check` with pending work.
            code = err.returncode if isinstance(err, CommandError) else err.code
            report.exit_code = int(code or 0)
            report.error = str(err) if isinstance(err, CommandError) else None
            self._complete(report, options, started)
            raise
        self._complete(report, options, started)
        return report

    def _reset(self, options: dict[str, Any]) -> None:
        # Errors can happen before BaseCommand.execute sets these up from the options.
        if options.get("stdout"):
            self.stdout = OutputWrapper(options["stdout"])
        if options.get("stderr"):
            self.stderr = OutputWrapper(options["stderr"])
        self.verbosity = options.get("verbosity", 1)
        self._applied: list[str] = []
        self._unapplied: list[str] = []
        self._planned: list[str] = []
        self._current: str | None = None
        self._line_open = False

    def _complete(self, report: MigrationReport, options: dict[str, Any], started: float) -> None:
        report.applied, report.unapplied, report.planned = (
            self._applied,
            self._unapplied,
            self._planned,
        )
        report.seconds = time.monotonic() - started
        planning = options.get("plan") or options.get("check_unapplied")
        if report.exit_code and not (planning and report.error is None):
            report.status = ReportStatus.FAILED
        elif planning:
            report.status = ReportStatus.PLANNED
        elif self._applied or self._unapplied:
            report.status = ReportStatus.APPLIED
        else:
            report.status = ReportStatus.UP_TO_DATE
        path = report_path(options.get("report_file"))
        if path is not None and (problem := write_report(path, report)):
            self.stderr.write(problem)

    def _run_tenant(self, tenant_id: str, args: tuple[Any, ...], options: dict[str, Any]) -> None:
        if options.get("database", DEFAULT_DB_ALIAS) not in (DEFAULT_DB_ALIAS, tenant_id):
            raise CommandError("--database cannot be used: the tenant decides the database.")
        self.tenant = connect_tenant(tenant_id, tenant=self._known_tenant)
        options["database"] = tenant_id
        with migration_scope(tenant=True):
            if (
                self._known_tenant is None
                and MigrationLoader(None, ignore_no_migrations=True).detect_conflicts()
            ):
                raise conflicting_migrations()
            with tenant_lock(tenant_id):
                try:
                    super().execute(*args, **options)
                except (TenantCommandError, CommandError, SystemExit):
                    raise
                except Exception as exc:
                    raise self._classify(tenant_id, exc) from exc

    def _classify(self, tenant_id: str, exc: Exception) -> TenantCommandError:
        if is_privilege_error(exc):
            return no_privilege()
        if self._current is not None:
            return migration_failed(self._current, tenant_id, str(exc))
        if isinstance(exc, OperationalError) and not connections[tenant_id].is_usable():
            return database_unreachable()
        if isinstance(exc, DatabaseError):
            return TenantCommandError(
                ExitCode.MIGRATION_FAILED,
                f"Error: Migrating tenant '{tenant_id}' failed: {first_line(str(exc))}",
            )
        raise exc

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        if self._known_plan is not None:
            self._planned = list(self._known_plan)
        else:
            self._planned = self._plan(connection, options)
        if options["plan"]:
            self._print_plan(options)
            return
        announce = self.verbosity >= 1 and not options["check_unapplied"]
        if announce:
            self.stdout.write(f"Running migrations for tenant: {self.tenant.name}")
        super().handle(*args, **options)
        if announce and not options["prune"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Migrations completed successfully for tenant '{self.tenant.tenant_id}'."
                )
            )

    def _plan(self, connection: Any, options: dict[str, Any]) -> list[str]:
        executor = MigrationExecutor(connection)
        targets = resolve_targets(executor.loader, options["app_label"], options["migration_name"])
        return plan_from(executor, targets).labels()

    def _print_plan(self, options: dict[str, Any]) -> None:
        if self.verbosity >= 1:
            tenant_id = self.tenant.tenant_id
            self.stdout.write(
                self.style.MIGRATE_HEADING(f"Planned operations for tenant '{tenant_id}':")
            )
            if not self._planned:
                self.stdout.write("  No pending migrations.")
            for label in self._planned:
                name, _, suffix = label.partition(" ")
                self.stdout.write(f"  {name}.py" + (f" {suffix}" if suffix else ""))
        if options["check_unapplied"] and self._planned:
            sys.exit(1)

    def migration_progress_callback(
        self, action: str, migration: Any = None, fake: bool = False
    ) -> None:
        """Print ``  users/0001_initial.py ... OK`` and remember what was applied."""
        if action in ("apply_start", "unapply_start"):
            self._current = migration_label(migration)
            self._started = time.monotonic()
            if self.verbosity >= 1:
                verb = "" if action == "apply_start" else "Unapplying "
                self.stdout.write(f"  {verb}{self._current}.py ...", ending="")
                self.stdout.flush()
                self._line_open = True
        elif action in ("apply_success", "unapply_success"):
            done = self._applied if action == "apply_success" else self._unapplied
            done.append(migration_label(migration))
            self._current = None
            if self.verbosity >= 1:
                elapsed = (
                    f" ({time.monotonic() - self._started:.3f}s)" if self.verbosity > 1 else ""
                )
                self.stdout.write(self.style.SUCCESS((" FAKED" if fake else " OK") + elapsed))
                self._line_open = False
        else:
            super().migration_progress_callback(action, migration, fake)

    def _finish_progress_line(self) -> None:
        if self._line_open:
            self.stdout.write(self.style.ERROR(" FAILED"))
            self._line_open = False
