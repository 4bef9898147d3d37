"""Schema isolation: tenants planned in batches over the control connection (no connection per
tenant) get exactly the plans the one-connection-per-tenant path gives them."""

from __future__ import annotations

import json

import pytest

from tenant_app.contract import parse_plan_output
from tests.tenant_app.conftest import Project

# Runs inside `manage.py shell`: both paths of FleetPlanner for every tenant, and the rows.
COMPARE = """
import json, sys
from django.db import connections
from tenant_app.planning import FleetPlanner, read_applied_in_schemas, schema_tenants
from tenant_app.registry import TenantRegistry
registry = TenantRegistry()
ids = [registry.register_alias(t) for t in registry.all()]
out = {}
for args in ([], ["users", "0001"], ["users", "zero"]):
    planner = FleetPlanner(*args)
    schemas = schema_tenants(ids)
    fast = planner.plan_schemas(schemas)
    slow = {t: planner.plan(connections[t]) for t in ids}
    out[" ".join(args)] = {
        "schemas": sorted(schemas),
        "fast": {t: [p.apply, p.unapply] for t, p in fast.items()},
        "slow": {t: [p.apply, p.unapply] for t, p in slow.items()},
    }
rows = read_applied_in_schemas(connections["default"], schema_tenants(ids), batch=2)
out["rows"] = {t: sorted(map(list, keys)) for t, keys in rows.items()}
sys.stdout.write(json.dumps(out))
"""


@pytest.mark.postgres
def test_schema_batches_plan_like_one_connection_per_tenant(pg_project: Project) -> None:
    for tenant in ("fresh", "partial", "current", "gone", "other"):
        pg_project.create(tenant, isolation="schema")
    pg_project.create("own-db", isolation="database")
    pg_project.ok("migratetenant", "--tenant-id=partial", "users", "0001")
    pg_project.ok("migratetenant", "--tenant-id=current")
    pg_project.ok("migratetenant", "--tenant-id=other", "products")
    pg_project.ok("migratetenant", "--tenant-id=own-db")
    # A schema that is not there at all: nothing applied either way.
    assert pg_project.pg is not None
    pg_project.server.execute('DROP SCHEMA "gone" CASCADE', dbname=pg_project.pg.name)
    found = json.loads(pg_project.ok("shell", "-v", "0", "-c", COMPARE).splitlines()[-1])
    rows = found.pop("rows")
    assert rows["fresh"] == rows["gone"] == []
    assert rows["partial"] == [["users", "0001_initial"]]
    assert len(rows["current"]) == 4
    assert rows["other"] == [["products", "0001_initial"]]
    for target, result in found.items():
        assert result["schemas"] == ["current", "fresh", "gone", "other", "partial"], target
        assert set(result["fast"]) == set(result["schemas"]), target
        for tenant, plan in result["fast"].items():
            assert plan == result["slow"][tenant], (target, tenant)
    latest = found[""]["fast"]
    assert latest["current"] == [[], []]
    assert sorted(latest["partial"][0]) == [
        "orders/0001_initial",
        "products/0001_initial",
        "users/0002_alter_user_email",
    ]
    assert found["users 0001"]["fast"]["current"] == [[], ["users/0002_alter_user_email"]]


@pytest.mark.postgres
def test_migratealltenants_on_a_mixed_schema_fleet(pg_project: Project) -> None:
    for tenant in ("acme", "globex", "initech"):
        pg_project.create(tenant, isolation="schema")
    pg_project.create("hooli", isolation="database")
    pg_project.ok("migratetenant", "--tenant-id=globex")
    pg_project.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    out = pg_project.ok("migratealltenants", "--plan", "--json")
    plans = {plan.tenant: (plan.pending, plan.unapply) for plan in parse_plan_output(out)}
    assert plans["globex"] == ([], [])
    assert len(plans["acme"][0]) == 3 and len(plans["initech"][0]) == 4
    assert len(plans["hooli"][0]) == 4
    out = pg_project.ok("migratealltenants", "--parallel", "2")
    assert "Summary: 4 tenants: 3 migrated, 1 up to date, 0 failed" in out
    out = pg_project.ok("migratealltenants")
    assert "Summary: 4 tenants: 0 migrated, 4 up to date, 0 failed" in out
