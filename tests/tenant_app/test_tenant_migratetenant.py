"""migratetenant: the documented output and every inherited migrate option."""

import json
from pathlib import Path

import pytest

from tests.tenant_app.conftest import Project

EXPECTED_OUTPUT = """\
Running migrations for tenant: ACME Corporation
Operations to perform:
  Apply all migrations: orders, products, users
Running migrations:
  users/0001_initial.py ... OK
  products/0001_initial.py ... OK
  orders/0001_initial.py ... OK
  users/0002_alter_user_email.py ... OK
Migrations completed successfully for tenant 'acme'.
"""


def applied(project: Project, tenant: str = "acme") -> list[str]:
    out = project.ok("showmigrations", f"--database={tenant}", "--list")
    rows, app = [], ""
    for line in out.splitlines():
        if not line.startswith(" "):
            app = line.strip()
        elif line.strip().startswith("[X]"):
            rows.append(f"{app}/{line.split()[-1]}")
    return rows


@pytest.fixture
def acme(project: Project) -> Project:
    project.create("acme", "ACME Corporation")
    return project


def test_migratetenant_prints_the_documented_output(acme: Project) -> None:
    assert acme.ok("migratetenant", "--tenant-id=acme") == EXPECTED_OUTPUT
    assert "Migrations completed successfully" in acme.ok("migratetenant", "--tenant-id=acme")


@pytest.mark.postgres
def test_migratetenant_output_in_schema_isolation(pg_project: Project) -> None:
    pg_project.create("acme", "ACME Corporation", "schema")
    assert pg_project.ok("migratetenant", "--tenant-id=acme") == EXPECTED_OUTPUT
    tables = pg_project.server.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'acme' ORDER BY 1",
        dbname=pg_project.pg.name,  # type: ignore[union-attr]
    )
    assert [t[0] for t in tables] == [
        "django_migrations",
        "orders_order",
        "products_product",
        "users_user",
    ]


def test_plan_lists_pending_migrations_for_tenant(acme: Project) -> None:
    acme.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    out = acme.ok("migratetenant", "--tenant-id=acme", "--plan")
    assert out == (
        "Planned operations for tenant 'acme':\n"
        "  products/0001_initial.py\n  orders/0001_initial.py\n"
        "  users/0002_alter_user_email.py\n"
    )
    acme.ok("migratetenant", "--tenant-id=acme")
    assert acme.ok("migratetenant", "--tenant-id=acme", "--plan") == (
        "Planned operations for tenant 'acme':\n  No pending migrations.\n"
    )


def test_app_label_and_migration_name_select_the_target(acme: Project) -> None:
    out = acme.ok("migratetenant", "--tenant-id=acme", "products")
    assert "products/0001_initial.py ... OK" in out and "users/" not in out
    assert applied(acme) == ["products/0001_initial"]
    acme.ok("migratetenant", "--tenant-id=acme", "users", "0001_initial")
    assert applied(acme) == ["products/0001_initial", "users/0001_initial"]


def test_migrating_backwards_and_to_zero(acme: Project) -> None:
    acme.ok("migratetenant", "--tenant-id=acme")
    out = acme.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    assert "Unapplying users/0002_alter_user_email.py ... OK" in out
    assert "users/0002_alter_user_email" not in applied(acme)
    plan = acme.ok("migratetenant", "--tenant-id=acme", "users", "zero", "--plan")
    assert "orders/0001_initial.py (unapply)" in plan and "users/0001_initial.py (unapply)" in plan
    acme.ok("migratetenant", "--tenant-id=acme", "users", "zero")
    assert applied(acme) == ["products/0001_initial"]


def test_fake_records_without_running(acme: Project) -> None:
    out = acme.ok("migratetenant", "--tenant-id=acme", "products", "--fake")
    assert "products/0001_initial.py ... FAKED" in out
    # The table was never created, so fake-initial of the next run cannot fake users.
    assert applied(acme) == ["products/0001_initial"]


def test_fake_initial_fakes_when_tables_exist(acme: Project) -> None:
    acme.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    acme.ok("migratetenant", "--tenant-id=acme", "users", "zero", "--fake")
    out = acme.ok("migratetenant", "--tenant-id=acme", "users", "0001", "--fake-initial")
    assert "users/0001_initial.py ... FAKED" in out


def test_check_exits_1_while_migrations_are_pending(acme: Project) -> None:
    assert acme.run("migratetenant", "--tenant-id=acme", "--check").returncode == 1
    assert acme.run("migratetenant", "--tenant-id=acme", "--plan", "--check").returncode == 1
    acme.ok("migratetenant", "--tenant-id=acme")
    assert acme.run("migratetenant", "--tenant-id=acme", "--check").returncode == 0


def test_prune_removes_rows_of_deleted_migrations(acme: Project) -> None:
    acme.ok("migratetenant", "--tenant-id=acme")
    acme.ok("migratetenant", "--tenant-id=acme", "users", "0002", "--fake")
    if acme.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(acme.data_dir / "tenant-acme.sqlite3") as db:
            db.execute(
                "INSERT INTO django_migrations (app, name, applied) "
                "VALUES ('users', '0003_gone', '2024-01-01')"
            )
    else:
        acme.server.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('users', '0003_gone', now())",
            dbname="acme",
        )
    out = acme.ok("migratetenant", "--tenant-id=acme", "users", "--prune")
    assert "Pruning users.0003_gone OK" in out


def test_verbosity_0_prints_nothing_and_3_prints_timings(acme: Project) -> None:
    assert acme.ok("migratetenant", "--tenant-id=acme", "products", "-v", "0") == ""
    out = acme.ok("migratetenant", "--tenant-id=acme", "-v", "3")
    assert "Running migrations for tenant: ACME Corporation" in out
    assert "users/0001_initial.py ... OK (" in out


def test_no_input_and_django_usage_errors_exit_2(acme: Project) -> None:
    assert acme.ok("migratetenant", "--tenant-id=acme", "--no-input", "-v", "0") == ""
    missing = acme.run("migratetenant")
    assert (
        missing.returncode == 2
        and "the following arguments are required: --tenant-id" in missing.stderr
    )
    hostile = acme.run("migratetenant", "--tenant-id=acme; drop schema public")
    assert hostile.returncode == 2 and "Invalid tenant id" in hostile.stderr


def test_unknown_app_label_is_djangos_error(acme: Project) -> None:
    result = acme.run("migratetenant", "--tenant-id=acme", "nosuchapp")
    assert result.returncode == 1
    assert "No installed app with label 'nosuchapp'" in result.stderr


def test_report_file_records_what_was_applied(acme: Project, tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    acme.ok("migratetenant", "--tenant-id=acme", f"--report-file={report_file}")
    report = json.loads(report_file.read_text())
    assert report["tenant"] == "acme" and report["status"] == "applied"
    assert report["exit_code"] == 0 and report["error"] is None
    assert report["applied"] == [
        "users/0001_initial",
        "products/0001_initial",
        "orders/0001_initial",
        "users/0002_alter_user_email",
    ]
    assert report["planned"] == report["applied"]
    assert report["seconds"] >= 0
    assert len(report_file.read_bytes()) <= 4096


def test_report_from_environment_variable(acme: Project, tmp_path: Path) -> None:
    report_file = tmp_path / "termination-log"
    acme.ok("migratetenant", "--tenant-id=acme", "--plan", TENANT_MIGRATE_REPORT=str(report_file))
    assert json.loads(report_file.read_text())["status"] == "planned"
    acme.ok("migratetenant", "--tenant-id=acme", "-v", "0")
    acme.ok("migratetenant", "--tenant-id=acme", TENANT_MIGRATE_REPORT=str(report_file))
    assert json.loads(report_file.read_text())["status"] == "up_to_date"


def test_works_from_the_example_directory(acme: Project) -> None:
    from tests.conftest import MANAGE, manage

    result = manage("migratetenant", "--tenant-id=acme", "--plan", env=acme.env, cwd=MANAGE.parent)
    assert result.returncode == 0 and "users/0001_initial.py" in result.stdout
