#!/usr/bin/env bash
# `make demo`. For now the Django side (scripts/demo-django.sh); the operator demo comes later.
set -euo pipefail
exec "$(dirname "$0")/demo-django.sh" "$@"
