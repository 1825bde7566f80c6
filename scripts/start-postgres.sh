#!/usr/bin/env bash
# Start a local PostgreSQL 15 for autofine's tests and benchmarks (idempotent; CI calls it too).
# Prints the test database URL on stdout as its last line.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d "/usr/lib/postgresql/${PG_VERSION}" ]; then
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
fi

if ! pg_lsclusters -h 2>/dev/null | grep -q "^${PG_VERSION} main"; then
  $SUDO pg_createcluster "${PG_VERSION}" main >&2
fi
if ! pg_lsclusters -h | grep -E "^${PG_VERSION} main" | grep -q online; then
  $SUDO pg_ctlcluster "${PG_VERSION}" main start >&2
fi

psql_as_postgres() { $SUDO su postgres -c "psql -v ON_ERROR_STOP=1 -qtA $*"; }

for _ in $(seq 1 30); do
  if psql_as_postgres "-c 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done

if [ "$(psql_as_postgres "-c \"select 1 from pg_roles where rolname='autofine'\"")" != "1" ]; then
  psql_as_postgres "-c \"create role autofine login createdb password 'autofine'\"" >&2
fi
for db in autofine autofine_test; do
  if [ "$(psql_as_postgres "-c \"select 1 from pg_database where datname='${db}'\"")" != "1" ]; then
    psql_as_postgres "-c \"create database ${db} owner autofine\"" >&2
  fi
done

echo "postgresql+psycopg://autofine:autofine@127.0.0.1:5432/autofine_test"
