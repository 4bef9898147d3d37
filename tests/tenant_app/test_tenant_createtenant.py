"""createtenant: flags and prompts; invalid and existing ids refused with nothing created."""

import json
import sqlite3

import pytest

from tests.conftest import manage
from tests.tenant_app.conftest import Project
from tests.tenant_app.test_tenant_ids import HOSTILE_IDS


def listed(project: Project) -> list[dict[str, str]]:
    return json.loads(project.ok("listtenants", "--json"))["tenants"]


def test_createtenant_registers_and_creates_the_sqlite_file(sqlite_project: Project) -> None:
    out = sqlite_project.ok(
        "createtenant",
        "--tenant-id=acme",
        "--name=ACME Corporation",
        "--isolation=database",
        "--no-input",
    )
    path = sqlite_project.data_dir / "tenant-acme.sqlite3"
    assert f"Created tenant 'acme' (ACME Corporation): sqlite {path}." in out
    assert path.exists()
    assert listed(sqlite_project) == [
        {
            "tenant_id": "acme",
            "name": "ACME Corporation",
            "isolation": "database",
            "target": f"sqlite {path}",
        }
    ]


@pytest.mark.postgres
def test_createtenant_creates_a_postgres_database_or_schema(
    pg_project: Project, pg_isolation: str
) -> None:
    pg_project.create("acme", "ACME Corporation", pg_isolation)
    server, control = pg_project.server, pg_project.pg.name  # type: ignore[union-attr]
    if pg_isolation == "database":
        assert "acme" in server.database_names()
    else:
        rows = server.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'acme'", dbname=control)
        assert rows == [(1,)]
    assert listed(pg_project)[0]["target"] == f"{pg_isolation} acme"


def test_createtenant_prompts_for_missing_values(sqlite_project: Project) -> None:
    result = manage("createtenant", env=sqlite_project.env, input="globex\nGlobex Inc\n\n")
    assert result.returncode == 0, result.stderr
    assert "Tenant id: " in result.stdout and "Name [globex]: " in result.stdout
    assert listed(sqlite_project)[0] | {"target": ""} == {
        "tenant_id": "globex",
        "name": "Globex Inc",
        "isolation": "database",
        "target": "",
    }


@pytest.mark.parametrize("tenant_id", [i for i in HOSTILE_IDS if i and "\n" not in i])
def test_createtenant_refuses_invalid_ids_and_creates_nothing(
    sqlite_project: Project, tenant_id: str
) -> None:
    before = sorted(p.name for p in sqlite_project.data_dir.iterdir())
    result = sqlite_project.run("createtenant", f"--tenant-id={tenant_id}", "--no-input")
    assert result.returncode == 1
    assert f"Invalid tenant id {tenant_id!r}" in result.stderr
    assert listed(sqlite_project) == []
    assert sorted(p.name for p in sqlite_project.data_dir.iterdir()) == before


def test_createtenant_refuses_an_existing_id(sqlite_project: Project) -> None:
    sqlite_project.create("acme", "ACME Corporation")
    result = sqlite_project.run("createtenant", "--tenant-id=acme", "--name=Other", "--no-input")
    assert result.returncode == 1
    assert "Tenant 'acme' already exists. Nothing was created." in result.stderr
    assert [t["name"] for t in listed(sqlite_project)] == ["ACME Corporation"]


def test_schema_isolation_on_sqlite_is_refused(sqlite_project: Project) -> None:
    result = sqlite_project.run(
        "createtenant", "--tenant-id=acme", "--isolation=schema", "--no-input"
    )
    assert result.returncode == 1
    assert "Schema isolation needs PostgreSQL" in result.stderr
    assert listed(sqlite_project) == []
    assert not (sqlite_project.data_dir / "tenant-acme.sqlite3").exists()


@pytest.mark.postgres
def test_existing_postgres_database_is_refused_and_no_row_is_left(pg_project: Project) -> None:
    pg_project.server.create_database("initech")
    result = pg_project.run("createtenant", "--tenant-id=initech", "--no-input")
    assert result.returncode == 1
    assert "Cannot create or drop database 'initech'" in result.stderr
    assert "Nothing was created." in result.stderr
    assert listed(pg_project) == []


@pytest.mark.postgres
def test_reserved_names_are_refused(pg_project: Project) -> None:
    result = pg_project.run(
        "createtenant", "--tenant-id=public", "--isolation=schema", "--no-input"
    )
    assert result.returncode == 1
    assert "The name 'public' is reserved" in result.stderr


def test_sqlite_tenant_file_is_a_database(sqlite_project: Project) -> None:
    sqlite_project.create("acme")
    sqlite3.connect(sqlite_project.data_dir / "tenant-acme.sqlite3").execute("SELECT 1")
