"""migratealltenants reuses what the fleet run already has: the loaded tenants, the conflict
check, the plan, and each worker's control connection (only tenant connections are closed)."""

from __future__ import annotations

import json

import pytest

from tests.tenant_app.conftest import Project

# Runs inside `manage.py shell`: counts lookups, conflict checks and control connections.
COUNT = """
import json, sys
from django.core.management import call_command
from django.db.backends.signals import connection_created
from django.db.migrations.loader import MigrationLoader
from tenant_app.registry import TenantRegistry
counts = {"find": 0, "loaders": 0, "control": 0, "tenant": 0}
find, init = TenantRegistry.find, MigrationLoader.__init__
def counted_find(self, tenant_id):
    counts["find"] += 1
    return find(self, tenant_id)
def counted_init(self, *args, **kwargs):
    counts["loaders"] += 1
    init(self, *args, **kwargs)
def created(sender, connection, **kwargs):
    counts["control" if connection.alias == "default" else "tenant"] += 1
TenantRegistry.find, MigrationLoader.__init__ = counted_find, counted_init
connection_created.connect(created)
call_command("migratealltenants", "--parallel", "2", stdout=sys.stderr)
sys.stdout.write(json.dumps(counts))
"""


def test_fresh_fleet_looks_nothing_up_again(project: Project) -> None:
    _check_fleet_reuse(project, "database")


@pytest.mark.postgres
def test_fresh_schema_fleet_looks_nothing_up_again(pg_project: Project) -> None:
    _check_fleet_reuse(pg_project, "schema")


def _check_fleet_reuse(project: Project, isolation: str) -> None:
    tenants = ["acme", "globex", "initech", "hooli", "umbrella"]
    for tenant in tenants:
        project.create(tenant, isolation=isolation)
    counts = json.loads(project.ok("shell", "-v", "0", "-c", COUNT).splitlines()[-1])
    assert counts["find"] == 0  # no second registry lookup per tenant
    # The fleet's loader, then Django's migrate's own per tenant: no conflict check or plan
    # per tenant on loaders of their own.
    assert counts["loaders"] == 1 + len(tenants)
    # The main thread's and at most one per worker, not one per tenant.
    assert 1 <= counts["control"] <= 3
    assert counts["tenant"] == len(tenants)
    out = project.ok("migratealltenants")
    assert f"Summary: {len(tenants)} tenants: 0 migrated, {len(tenants)} up to date" in out
