"""Isolation is real: migrating acme changes nothing in globex; aliases work for any command."""

import shutil
import sqlite3
import subprocess

import pytest

from tests.conftest import find_pg_bin
from tests.tenant_app.conftest import Project


def sqlite_schema(project: Project, tenant: str) -> list[tuple[str, ...]]:
    with sqlite3.connect(project.data_dir / f"tenant-{tenant}.sqlite3") as db:
        return sorted(db.execute("SELECT type, name, sql FROM sqlite_master"))


def test_sqlite_migrating_acme_leaves_globex_untouched(sqlite_project: Project) -> None:
    for tenant in ("acme", "globex"):
        sqlite_project.create(tenant)
    sqlite_project.ok("migratetenant", "--tenant-id=globex", "users", "0001")
    before = sqlite_schema(sqlite_project, "globex")
    sqlite_project.ok("migratetenant", "--tenant-id=acme")
    assert sqlite_schema(sqlite_project, "globex") == before
    assert "orders_order" in str(sqlite_schema(sqlite_project, "acme"))


def pg_dump_schema(project: Project, dbname: str, schema: str | None = None) -> str:
    bin_dir = find_pg_bin()
    pg_dump = str(bin_dir / "pg_dump") if bin_dir else shutil.which("pg_dump")
    url = project.server.url_for(dbname)
    args = [pg_dump, "--schema-only", "--no-owner", url] + (["--schema", schema] if schema else [])
    dump = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    # Newer pg_dump brackets the dump with \restrict/\unrestrict and a random key per run.
    return "\n".join(
        line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict"))
    )


def migrations_rows(project: Project, dbname: str, schema: str) -> list[tuple[str, str]]:
    from psycopg import sql

    query = sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY 1, 2").format(
        sql.Identifier(schema)
    )
    return [tuple(r) for r in project.server.execute(query, dbname=dbname)]


@pytest.mark.postgres
def test_postgres_migrating_acme_leaves_globex_untouched(
    pg_project: Project, pg_isolation: str
) -> None:
    for tenant in ("acme", "globex"):
        pg_project.create(tenant, isolation=pg_isolation)
    pg_project.ok("migratetenant", "--tenant-id=globex", "users", "0001")
    control = pg_project.pg.name  # type: ignore[union-attr]
    dbname, schema = ("globex", None) if pg_isolation == "database" else (control, "globex")
    before = pg_dump_schema(pg_project, dbname, schema)
    rows_before = migrations_rows(pg_project, dbname, schema or "public")
    pg_project.ok("migratetenant", "--tenant-id=acme")
    assert pg_dump_schema(pg_project, dbname, schema) == before
    assert (
        migrations_rows(pg_project, dbname, schema or "public")
        == rows_before
        == [("users", "0001_initial")]
    )
    if pg_isolation == "schema":
        # The control database's own tables stay in public, and no tenant table leaked there.
        public = pg_dump_schema(pg_project, control, "public")
        assert "tenant_app_tenant" in public and "users_user" not in public


def test_showmigrations_takes_a_tenant_id_as_database(project: Project) -> None:
    project.create("acme")
    project.ok("migratetenant", "--tenant-id=acme", "users", "0001")
    out = project.ok("showmigrations", "--database=acme")
    assert out == (
        "orders\n [ ] 0001_initial\nproducts\n [ ] 0001_initial\n"
        "users\n [X] 0001_initial\n [ ] 0002_alter_user_email\n"
    )
    # The control database lists only the registry's app.
    assert project.ok("showmigrations").startswith("tenant_app\n [X] 0001_initial")
    assert "users" not in project.ok("showmigrations")


def test_other_database_commands_take_a_tenant_id(project: Project) -> None:
    project.create("acme")
    project.ok("migrate", "--database", "acme", "-v", "0")
    assert "CREATE TABLE" in project.ok("sqlmigrate", "--database=acme", "products", "0001")
    assert project.ok("dumpdata", "--database=acme", "users").strip() == "[]"
    unknown = project.run("showmigrations", "--database=nope")
    assert unknown.returncode == 1
    assert "Database 'nope' is neither configured nor a registered tenant." in unknown.stderr
