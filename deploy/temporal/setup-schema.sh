#!/bin/sh
# One-shot (admin-tools image): create the Temporal databases if missing and bring their
# schemas to the version this admin-tools release ships. Safe to re-run on every `up`:
# an existing, set-up database only gets `update-schema` (which applies what is missing);
# `setup-schema -v 0.0` (the version bookkeeping) runs only where that fails, i.e. on a
# database that has never been set up.
set -eu

SCHEMA=/etc/temporal/schema/postgresql/v12

sql() {
  database=$1
  shift
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "$DB_PORT" \
    --user "$POSTGRES_USER" --password "$POSTGRES_PWD" --database "$database" "$@"
}

migrate() {
  database=$1
  versions=$2
  echo "== $database"
  sql "$database" create || echo "(database $database already exists)"
  if ! sql "$database" update-schema -d "$versions"; then
    sql "$database" setup-schema -v 0.0
    sql "$database" update-schema -d "$versions"
  fi
}

migrate "${DBNAME:-temporal}" "$SCHEMA/temporal/versioned"
migrate "${VISIBILITY_DBNAME:-temporal_visibility}" "$SCHEMA/visibility/versioned"
echo "Temporal schemas are up to date"
