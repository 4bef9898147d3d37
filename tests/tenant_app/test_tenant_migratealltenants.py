"""migratealltenants: progress, summary, selection, failures, plan lines, cheap skipping."""

import fcntl
import json
import os
import re

import pytest

from tenant_app.contract import parse_plan_output, parse_result_output
from tenant_app.locking import advisory_lock_key
from tests.tenant_app.conftest import Project

PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] ([a-z0-9-]+) \.\.\. (.+) \((\d+\.\d)s\)$")


@pytest.fixture
def fleet(project: Project) -> Project:
    for tenant in ("acme", "globex", "initech"):
        project.create(tenant)
    return project


def progress(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        if match := PROGRESS.match(line):
            found[match[3]] = match[4]
    return found


def test_migrates_every_tenant_with_progress_and_summary(fleet: Project) -> None:
    fleet.ok("migratetenant", "--tenant-id=globex")
    out = fleet.ok("migratealltenants", "--parallel", "2")
    assert progress(out) == {"acme": "OK", "globex": "up to date", "initech": "OK"}
    assert {line.split("]")[0] for line in out.splitlines() if line.startswith("[")} == {
        "[1/3",
        "[2/3",
        "[3/3",
    }
    assert "Summary: 3 tenants: 2 migrated, 1 up to date, 0 failed" in out
    assert progress(fleet.ok("migratealltenants")) == dict.fromkeys(
        ["acme", "globex", "initech"], "up to date"
    )


def test_selection_with_tenant_ids_and_exclude(fleet: Project) -> None:
    out = fleet.ok(
        "migratealltenants", "--tenant-ids", "initech,acme,globex", "--exclude", "globex"
    )
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == [
        "initech",
        "acme",
    ]
    assert "globex" not in progress(out)


def test_repeated_tenant_ids_add_up_in_order(fleet: Project) -> None:
    # The operator splits a very long list over several arguments (128 KiB each at most).
    out = fleet.ok("migratealltenants", "--plan", "--tenant-ids=globex", "--tenant-ids=acme")
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == [
        "globex",
        "acme",
    ]


def test_plan_json_prints_one_tenant_plan_line_per_tenant(fleet: Project) -> None:
    fleet.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    fleet.ok("migratetenant", "--tenant-id=globex")
    out = fleet.ok("migratealltenants", "--plan", "--json")
    plans = {plan.tenant: plan for plan in parse_plan_output(out)}
    assert plans["acme"].pending == [
        "products/0001_initial",
        "orders/0001_initial",
        "users/0002_alter_user_email",
    ]
    assert plans["globex"].pending == []
    assert plans["initech"].pending[0] == "users/0001_initial"
    assert json.loads(out.splitlines()[-1])["summary"]["tenants"] == 3
    # Nothing was applied.
    assert "[ ] 0001_initial" in fleet.ok("showmigrations", "--database=initech")
    human = fleet.ok("migratealltenants", "--plan")
    assert progress(human)["acme"] == "3 pending" and "    orders/0001_initial.py" in human


def test_json_results_are_migration_reports(fleet: Project) -> None:
    out = fleet.ok("migratealltenants", "--json", "--tenant-ids", "acme")
    (report,) = parse_result_output(out)
    assert report.status == "applied" and "users/0002_alter_user_email" in report.applied


def test_failure_exits_non_zero_and_fail_fast_stops_starting_tenants(fleet: Project) -> None:
    result = fleet.run("migratealltenants", "--tenant-ids", "acme,nope,globex,initech")
    assert result.returncode == 1
    found = progress(result.stdout)
    assert found["acme"] == "OK" and found["nope"] == "FAILED (exit 3)"
    assert "Tenant 'nope' does not exist." in result.stdout
    assert "skipped after a failure" in result.stdout and "Failed tenants: nope" in result.stdout
    assert "globex" not in found


def test_continue_on_error_migrates_the_others(fleet: Project) -> None:
    result = fleet.run(
        "migratealltenants", "--continue-on-error", "--tenant-ids", "acme,nope,globex"
    )
    assert result.returncode == 1
    assert progress(result.stdout) == {"acme": "OK", "nope": "FAILED (exit 3)", "globex": "OK"}
    assert "Summary: 3 tenants: 2 migrated, 0 up to date, 1 failed" in result.stdout


def test_failed_migration_is_reported_per_tenant(fleet: Project) -> None:
    result = fleet.run("migratealltenants", "--continue-on-error", settings="broken")
    assert result.returncode == 1
    assert set(progress(result.stdout).values()) == {"FAILED (exit 1)"}
    assert "Migration products/0003_broken failed for tenant 'acme'" in result.stdout


def test_conflicting_migrations_stop_before_any_tenant(fleet: Project) -> None:
    result = fleet.run("migratealltenants", settings="conflict")
    assert result.returncode == 5
    assert result.stderr.startswith("Error: Conflicting migrations detected\n")


def test_up_to_date_tenants_are_skipped_without_a_migrate_run(fleet: Project) -> None:
    """A locked tenant that is up to date is reported up to date, not busy: no run touched it."""
    fleet.ok("migratealltenants", "-v", "0")

    def run_while_locked() -> str:
        return fleet.ok("migratealltenants")

    if fleet.kind == "postgres":
        with fleet.server.connect(fleet.pg.name) as holder:  # type: ignore[union-attr]
            holder.execute("SELECT pg_advisory_lock(%s, %s)", advisory_lock_key("acme"))
            out = run_while_locked()
    else:
        fd = os.open(fleet.data_dir / ".tenant-acme.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            out = run_while_locked()
        finally:
            os.close(fd)
    assert progress(out)["acme"] == "up to date"


def test_busy_tenant_is_a_failure_with_exit_7(sqlite_project: Project) -> None:
    sqlite_project.create("acme")
    fd = os.open(sqlite_project.data_dir / ".tenant-acme.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = sqlite_project.run("migratealltenants", "--continue-on-error")
    finally:
        os.close(fd)
    assert result.returncode == 1
    assert progress(result.stdout)["acme"] == "FAILED (exit 7)"
    assert "Tenant 'acme' is being migrated by another process." in result.stdout


@pytest.mark.postgres
def test_parallel_schema_tenants_on_postgres(pg_project: Project) -> None:
    for tenant in ("acme", "globex", "initech", "umbrella"):
        pg_project.create(tenant, isolation="schema")
    out = pg_project.ok("migratealltenants", "--parallel", "3")
    assert set(progress(out).values()) == {"OK"}
    assert "[X] 0002_alter_user_email" in pg_project.ok("showmigrations", "--database=umbrella")
