#!/usr/bin/env bash
# The Django side on its own (issue 2): two tenants on the embedded SQLite default, their plan,
# the migration, and `showmigrations --database=acme`. Uses a fresh TENANTOPS_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
export TENANTOPS_DATA_DIR="${TENANTOPS_DATA_DIR:-$(mktemp -d -t tenantops-demo-XXXXXX)}"
unset DATABASE_URL
manage() { echo "+ manage.py $*"; "$PY" example/manage.py "$@"; echo; }

echo "Data directory: $TENANTOPS_DATA_DIR"
manage migrate
manage createtenant --tenant-id=acme --name="ACME Corporation" --isolation=database --no-input
manage createtenant --tenant-id=globex --name="Globex Inc" --no-input
manage listtenants
manage migratetenant --tenant-id=acme --plan
manage migratetenant --tenant-id=acme
manage showmigrations --database=acme
manage migratealltenants --plan
manage migratealltenants --parallel 2
echo "+ manage.py migratetenant --tenant-id=initech"
rc=0; "$PY" example/manage.py migratetenant --tenant-id=initech || rc=$?
echo "(exit code $rc: unknown tenant)"
