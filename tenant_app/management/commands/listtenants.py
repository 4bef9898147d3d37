"""``listtenants [--json]``: the registry, for people and for the operator's discovery Job."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenant_app.registry import TenantRegistry, TenantRegistryError


class Command(BaseCommand):
    help = "List the tenants: id, name, isolation and where each one's data lives."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help='One JSON document: {"tenants": [{"tenant_id", "name", "isolation", "target"}]}.',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        registry = TenantRegistry()
        try:
            tenants = [registry.info(tenant) for tenant in registry.all()]
        except TenantRegistryError as exc:
            raise CommandError(
                f"Cannot read the tenant registry: {exc}".strip()
                + "\nCheck the database configuration, and run 'manage.py migrate' first."
            ) from exc
        if options["json"]:
            document = {"tenants": [tenant.as_dict() for tenant in tenants]}
            self.stdout.write(json.dumps(document, separators=(",", ":")))
            return
        if not tenants:
            self.stdout.write("No tenants. Create one with: manage.py createtenant")
            return
        rows = [("TENANT", "NAME", "ISOLATION", "TARGET")]
        rows += [(t.tenant_id, t.name, t.isolation, t.target) for t in tenants]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[3]]))
