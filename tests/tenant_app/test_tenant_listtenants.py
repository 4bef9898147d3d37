"""listtenants: a table for people, one JSON document for the operator."""

import json

from tests.tenant_app.conftest import Project


def test_listtenants_table_and_json(project: Project) -> None:
    assert "No tenants" in project.ok("listtenants")
    assert json.loads(project.ok("listtenants", "--json")) == {"tenants": []}
    project.create("globex", "Globex Inc")
    project.create("acme", "ACME Corporation")
    lines = project.ok("listtenants").splitlines()
    assert lines[0].split() == ["TENANT", "NAME", "ISOLATION", "TARGET"]
    assert lines[1].startswith("acme    ACME Corporation  database   ")
    assert lines[2].startswith("globex  Globex Inc        database   ")
    document = json.loads(project.ok("listtenants", "--json"))
    assert [t["tenant_id"] for t in document["tenants"]] == ["acme", "globex"]
    assert set(document["tenants"][0]) == {"tenant_id", "name", "isolation", "target"}
