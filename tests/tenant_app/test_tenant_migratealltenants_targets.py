"""migratealltenants with migrate's target and fake options: exact per-tenant plans, then apply."""

import json
import re

import pytest

from tenant_app.contract import TenantPlan, parse_plan_output, parse_result_output
from tests.tenant_app.conftest import Project

PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] ([a-z0-9-]+) \.\.\. (.+) \((\d+\.\d)s\)$")


@pytest.fixture
def fleet(project: Project) -> Project:
    """acme at users/0001 only, globex fully migrated, initech with nothing applied."""
    for tenant in ("acme", "globex", "initech"):
        project.create(tenant)
    project.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    project.ok("migratetenant", "--tenant-id=globex")
    return project


def progress(out: str) -> dict[str, str]:
    return {match[3]: match[4] for line in out.splitlines() if (match := PROGRESS.match(line))}


def plans(project: Project, *args: str) -> dict[str, tuple[list[str], list[str]]]:
    """``{tenant: (pending, unapply)}`` from ``migratealltenants --plan --json ARGS``."""
    out = project.ok("migratealltenants", "--plan", "--json", *args)
    return {plan.tenant: (plan.pending, plan.unapply) for plan in parse_plan_output(out)}


def applied(project: Project, tenant: str) -> list[str]:
    """The tenant's applied migrations, as ``showmigrations --plan`` lists them."""
    out = project.ok("showmigrations", f"--database={tenant}", "--plan")
    return sorted(line[5:] for line in out.splitlines() if line.startswith("[X]"))


def test_plan_to_a_forward_target_lists_only_what_reaches_it(fleet: Project) -> None:
    assert plans(fleet, "users", "0002") == {
        "acme": (["users/0002_alter_user_email"], []),
        "globex": ([], []),
        "initech": (["users/0001_initial", "users/0002_alter_user_email"], []),
    }
    # The same target with the app's leaf implied, and an app other tenants already have.
    assert plans(fleet, "users")["acme"] == (["users/0002_alter_user_email"], [])
    assert plans(fleet, "products") == {
        "acme": (["products/0001_initial"], []),
        "globex": ([], []),
        "initech": (["products/0001_initial"], []),
    }


def test_plan_to_an_earlier_target_lists_unapply_entries(fleet: Project) -> None:
    found = plans(fleet, "users", "0001")
    assert found == {
        "acme": ([], []),
        "globex": ([], ["users/0002_alter_user_email"]),
        "initech": (["users/0001_initial"], []),
    }
    human = fleet.ok("migratealltenants", "--plan", "users", "0001")
    assert progress(human) == {"acme": "up to date", "globex": "1 pending", "initech": "1 pending"}
    assert "    users/0002_alter_user_email.py (unapply)" in human
    assert "Summary: 3 tenants: 2 with pending migrations, 0 failed" in human


def test_plan_to_zero_unapplies_dependent_apps_first(fleet: Project) -> None:
    found = plans(fleet, "users", "zero")
    assert found["acme"] == ([], ["users/0001_initial"])
    assert found["initech"] == ([], [])
    pending, unapply = found["globex"]
    assert pending == [] and set(unapply) == {
        "orders/0001_initial",
        "users/0001_initial",
        "users/0002_alter_user_email",
    }
    # orders depends on users/0001: Django unapplies it before users/0001.
    assert unapply.index("orders/0001_initial") < unapply.index("users/0001_initial")


def test_plan_json_lines_carry_unapply_and_a_summary(fleet: Project) -> None:
    out = fleet.ok("migratealltenants", "--plan", "--json", "users", "0001")
    lines = [json.loads(line) for line in out.splitlines()]
    by_tenant = {line["tenantPlan"]["tenant"]: line["tenantPlan"] for line in lines[:-1]}
    assert by_tenant["globex"] == {
        "tenant": "globex",
        "pending": [],
        "unapply": ["users/0002_alter_user_email"],
        "exit_code": 0,
        "error": None,
    }
    assert lines[-1]["summary"]["planned"] == 3 and lines[-1]["summary"]["failed"] == 0


def test_apply_to_a_target_migrates_only_tenants_not_at_it(fleet: Project) -> None:
    out = fleet.ok("migratealltenants", "users", "0001")
    assert progress(out) == {"acme": "up to date", "globex": "OK", "initech": "OK"}
    assert "Summary: 3 tenants: 2 migrated, 1 up to date, 0 failed" in out
    for tenant in ("acme", "initech"):
        assert applied(fleet, tenant) == ["users.0001_initial"]
    # Only users went back: the other apps globex had stay.
    assert applied(fleet, "globex") == [
        "orders.0001_initial",
        "products.0001_initial",
        "users.0001_initial",
    ]
    assert plans(fleet, "users", "0001") == dict.fromkeys(["acme", "globex", "initech"], ([], []))
    # Forwards again, to the latest: what was unapplied comes back.
    fleet.ok("migratealltenants")
    assert plans(fleet) == dict.fromkeys(["acme", "globex", "initech"], ([], []))


def test_apply_to_zero_reports_the_unapplied_migrations(fleet: Project) -> None:
    out = fleet.ok("migratealltenants", "--json", "users", "zero", "--tenant-ids", "globex,acme")
    reports = {report.tenant: report for report in parse_result_output(out)}
    assert reports["globex"].status == "applied"
    assert set(reports["globex"].unapplied) == {
        "orders/0001_initial",
        "users/0001_initial",
        "users/0002_alter_user_email",
    }
    assert reports["acme"].unapplied == ["users/0001_initial"]
    assert applied(fleet, "globex") == ["products.0001_initial"]
    assert applied(fleet, "acme") == []


def test_fake_records_the_target_without_running_it(sqlite_project: Project) -> None:
    sqlite_project.create("acme")
    out = sqlite_project.ok("migratealltenants", "--fake", "users", "0001", "-v", "0")
    assert progress(out) == {"acme": "OK"}
    assert applied(sqlite_project, "acme") == ["users.0001_initial"]
    # Faked: the table was never created, so applying the next migration has nothing to alter.
    result = sqlite_project.run("migratealltenants", "users")
    assert result.returncode == 1
    assert "Migration users/0002_alter_user_email failed for tenant 'acme'" in result.stdout


def test_fake_initial_fakes_initial_migrations_whose_tables_exist(sqlite_project: Project) -> None:
    sqlite_project.create("acme")
    sqlite_project.ok("migratetenant", "--tenant-id=acme", "products", "0001")
    sqlite_project.ok("migratetenant", "--tenant-id=acme", "--fake", "products", "zero")
    assert applied(sqlite_project, "acme") == []
    # Without --fake-initial this would fail: products' table is already there.
    sqlite_project.ok("migratealltenants", "--fake-initial")
    assert len(applied(sqlite_project, "acme")) == 4


def test_unknown_app_label_is_djangos_error_before_any_tenant(fleet: Project) -> None:
    result = fleet.run("migratealltenants", "--plan", "nosuchapp")
    assert result.returncode != 0
    assert "No installed app with label 'nosuchapp'." in result.stderr
    assert progress(result.stdout) == {}
    result = fleet.run("migratealltenants", "users", "0099")
    assert result.returncode != 0
    assert "Cannot find a migration matching '0099' from app 'users'." in result.stderr


@pytest.mark.postgres
def test_targets_on_postgres_schema_tenants(pg_project: Project) -> None:
    for tenant in ("acme", "globex"):
        pg_project.create(tenant, isolation="schema")
    pg_project.ok("migratealltenants", "--tenant-ids", "globex")
    assert plans(pg_project, "users", "0001") == {
        "acme": (["users/0001_initial"], []),
        "globex": ([], ["users/0002_alter_user_email"]),
    }
    out = pg_project.ok("migratealltenants", "--parallel", "2", "users", "0001")
    assert progress(out) == {"acme": "OK", "globex": "OK"}
    assert applied(pg_project, "globex") == sorted(
        ["orders.0001_initial", "products.0001_initial", "users.0001_initial"]
    )
    assert plans(pg_project, "users", "0001") == {"acme": ([], []), "globex": ([], [])}


def test_plan_lines_from_older_or_newer_images_still_parse() -> None:
    older = '{"tenantPlan":{"tenant":"acme","pending":["users/0002"],"exit_code":0,"error":null}}'
    newer = (
        '{"tenantPlan":{"tenant":"globex","pending":[],"unapply":["users/0002"],'
        '"exit_code":0,"error":null,"comesLater":1}}'
    )
    acme, globex = parse_plan_output(f"{older}\nnoise\n{newer}\n")
    assert (acme.pending, acme.unapply, acme.up_to_date) == (["users/0002"], [], False)
    assert (globex.pending, globex.unapply, globex.up_to_date) == ([], ["users/0002"], False)
    assert TenantPlan("initech").up_to_date and not TenantPlan("x", exit_code=4).up_to_date
