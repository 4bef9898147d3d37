"""``createtenant``: register a tenant and create its database, schema or SQLite file."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenant_app.backends import TenantStorageError
from tenant_app.ids import InvalidTenantId, validate_tenant_id
from tenant_app.models import Isolation
from tenant_app.registry import TenantExists, TenantRegistry, TenantRegistryError


class Command(BaseCommand):
    help = (
        "Create a tenant: the registry row and its database or schema. Prompts for what is "
        "missing unless --no-input is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # Validated in handle, not by argparse: a prompt answer must pass the same check.
        parser.add_argument("--tenant-id", help="DNS-1123 label, e.g. acme.")
        parser.add_argument("--name", help="Display name, e.g. 'ACME Corporation'.")
        parser.add_argument(
            "--isolation",
            choices=Isolation.values,
            help="database (own database or SQLite file; default) or schema (PostgreSQL only).",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt; missing values are an error (isolation defaults to database).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_id = options["tenant_id"] or self._ask(options, "Tenant id")
        try:
            validate_tenant_id(tenant_id)
        except InvalidTenantId as exc:
            raise CommandError(str(exc)) from None
        name = options["name"] or (
            self._ask(options, "Name", default=tenant_id) if options["interactive"] else tenant_id
        )
        isolation = options["isolation"] or (
            self._ask(options, "Isolation (database/schema)", default=Isolation.DATABASE)
            if options["interactive"]
            else Isolation.DATABASE
        )
        registry = TenantRegistry()
        try:
            tenant = registry.create(tenant_id, name, isolation)
        except (TenantExists, TenantStorageError) as exc:
            reason = str(exc).strip().rstrip(".")
            raise CommandError(f"{reason}. Nothing was created.") from None
        except TenantRegistryError as exc:
            raise CommandError(
                f"Cannot read the tenant registry: {exc}".strip()
                + "\nRun 'python manage.py migrate' on the control database first."
            ) from None
        target = registry.info(tenant).target
        self.stdout.write(
            self.style.SUCCESS(f"Created tenant '{tenant.tenant_id}' ({tenant.name}): {target}.")
        )
        if options["verbosity"] >= 1:
            self.stdout.write(f"Migrate it with: manage.py migratetenant --tenant-id={tenant_id}")

    def _ask(self, options: dict[str, Any], label: str, default: str | None = None) -> str:
        if not options["interactive"]:
            raise CommandError("--tenant-id is required with --no-input.")
        suffix = f" [{default}]" if default else ""
        while True:
            answer = input(f"{label}{suffix}: ").strip() or (default or "")
            if answer:
                return answer
