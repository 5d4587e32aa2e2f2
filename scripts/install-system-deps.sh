#!/usr/bin/env bash
# Installs the Debian packages CI uses (a real redis-server and Chromium for the tests, PostgreSQL for
# FerretDB on PostgreSQL: tests/helpers/postgresql.ts starts throw-away clusters of its own, docker-compose
# to validate docker-compose.yml, the sqlite3 shell for tests that read the embedded database's own tables),
# only when missing.
# Needs root or sudo; prints what to run otherwise.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
if [ ${#missing[@]} -eq 0 ]; then
  echo "[system-deps] redis-server, chromium, docker-compose, postgresql and sqlite3 are installed"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "[system-deps] missing ${missing[*]}: run 'apt-get install ${missing[*]}' as root" >&2
  exit 1
fi
echo "[system-deps] installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
  # The tests start their own clusters: no `main` cluster (a server left running on port 5432).
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo 'create_main_cluster = false' | $SUDO tee /etc/postgresql-common/createcluster.d/ensemble-no-main-cluster.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
