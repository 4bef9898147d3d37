#!/usr/bin/env bash
# `make demo`: the product demo (a TenantMigration rolled across tenants by the operator on
# devcluster). `make demo-django` shows the Django commands alone (scripts/demo-django.sh).
set -euo pipefail
exec "$(dirname "$0")/demo-operator.sh" "$@"
