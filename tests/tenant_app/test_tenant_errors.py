"""The documented errors: exact stderr text and exit code, and a report for each."""

import fcntl
import json
import os
from pathlib import Path

import pytest

from tenant_app.locking import advisory_lock_key
from tests.conftest import free_port
from tests.tenant_app.conftest import Project


@pytest.fixture
def acme(project: Project) -> Project:
    project.create("acme", "ACME Corporation")
    return project


def test_unknown_tenant_exits_3(project: Project, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    result = project.run("migratetenant", "--tenant-id=acme", f"--report-file={report}")
    assert result.returncode == 3
    assert result.stderr == (
        "Error: Tenant 'acme' does not exist.\nPlease create one with the tenant id 'acme' first.\n"
    )
    data = json.loads(report.read_text())
    assert (data["status"], data["exit_code"]) == ("failed", 3)
    assert data["error"].startswith("Tenant 'acme' does not exist.")


@pytest.mark.postgres
def test_unreachable_database_exits_4(tmp_path: Path) -> None:
    from tests.conftest import manage

    url = f"postgres://tenantops:tenantops@127.0.0.1:{free_port()}/control"
    result = manage(
        "migratetenant",
        "--tenant-id=acme",
        env={"DATABASE_URL": url, "TENANTOPS_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 4
    assert result.stderr == (
        "Error: Cannot connect to tenant database\nCheck database configuration and connectivity.\n"
    )


@pytest.mark.postgres
def test_vanished_tenant_database_exits_4(pg_project: Project) -> None:
    pg_project.create("acme")
    pg_project.server.drop_database("acme")
    result = pg_project.run("migratetenant", "--tenant-id=acme")
    assert result.returncode == 4
    assert result.stderr.startswith("Error: Cannot connect to tenant database\n")


def test_conflicting_migrations_exit_5(acme: Project) -> None:
    result = acme.run("migratetenant", "--tenant-id=acme", settings="conflict")
    assert result.returncode == 5
    assert result.stderr == (
        "Error: Conflicting migrations detected\nResolve migration conflicts before applying.\n"
    )
    assert (
        acme.run("migratetenant", "--tenant-id=acme", "--plan", settings="conflict").returncode == 5
    )


@pytest.mark.postgres
def test_no_privilege_to_create_tables_exits_6(pg_project: Project, pg_isolation: str) -> None:
    pg_project.create("acme", isolation=pg_isolation)
    server, control = pg_project.server, pg_project.pg.name  # type: ignore[union-attr]
    server.execute(
        "DO $$ BEGIN CREATE ROLE limited LOGIN PASSWORD 'limited'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    server.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO limited", dbname=control)
    if pg_isolation == "schema":
        server.execute("GRANT USAGE ON SCHEMA acme TO limited", dbname=control)
    url = server.url_for(control, user="limited", password="limited")
    result = pg_project.run("migratetenant", "--tenant-id=acme", DATABASE_URL=url)
    assert result.returncode == 6, result.stderr
    assert result.stderr == (
        "Error: User does not have permission to create tables\n"
        "Ensure database user has required privileges.\n"
    )


def test_tenant_busy_exits_7(acme: Project) -> None:
    if acme.kind == "postgres":
        with acme.server.connect(acme.pg.name) as holder:  # type: ignore[union-attr]
            holder.execute("SELECT pg_advisory_lock(%s, %s)", advisory_lock_key("acme"))
            result = acme.run("migratetenant", "--tenant-id=acme")
    else:
        fd = os.open(acme.data_dir / ".tenant-acme.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            result = acme.run("migratetenant", "--tenant-id=acme")
        finally:
            os.close(fd)
    assert result.returncode == 7
    assert result.stderr == "Error: Tenant 'acme' is being migrated by another process.\n"
    # Released: the next run proceeds.
    acme.ok("migratetenant", "--tenant-id=acme", "-v", "0")


def test_failed_migration_exits_1_and_keeps_the_last_good_migration(
    acme: Project, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    result = acme.run(
        "migratetenant", "--tenant-id=acme", f"--report-file={report}", settings="broken"
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: Migration products/0003_broken failed for tenant 'acme': "
        "the data backfill found a product without a price\n"
    )
    assert "products/0003_broken.py ... FAILED" in result.stdout
    shown = acme.ok("showmigrations", "--database=acme", "products", settings="broken")
    assert "[X] 0002_add_sku" in shown and "[ ] 0003_broken" in shown
    data = json.loads(report.read_text())
    assert data["status"] == "failed" and data["exit_code"] == 1
    assert "products/0002_add_sku" in data["applied"]
    assert "products/0003_broken" not in data["applied"]
    # The failed migration's own AddField was rolled back with it.
    if acme.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(acme.data_dir / "tenant-acme.sqlite3") as db:
            columns = [row[1] for row in db.execute("PRAGMA table_info(products_product)")]
    else:
        columns = [
            r[0]
            for r in acme.server.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'products_product'",
                dbname="acme",
            )
        ]
    assert "sku" in columns and "barcode" not in columns
