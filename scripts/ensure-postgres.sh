#!/usr/bin/env bash
# Install Debian's PostgreSQL server when no pg_ctl can be found; the test fixtures start their
# own throw-away server from it (initdb in a temporary directory, 127.0.0.1, a free port).
set -euo pipefail
if command -v pg_ctl >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  exit 0
fi
echo "PostgreSQL server not found: installing Debian's postgresql package" >&2
if [ "$(id -u)" != 0 ]; then
  echo "Error: installing PostgreSQL needs root. Run: sudo apt-get install -y postgresql" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends postgresql
