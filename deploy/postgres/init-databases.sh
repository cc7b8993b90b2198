#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
#
#   temporal        LOGIN CREATEDB   creates and owns `temporal` and `temporal_visibility`
#                                    (temporal-sql-tool `create`, in the temporal-schema job)
#   accord_owner    LOGIN CREATEROLE owns database `accord`; runs the migrations (CREATEROLE
#                                    because migrations 0001/0002 create accord_app if it is
#                                    missing, and PostgreSQL checks that right first even when
#                                    the role exists; see store/roles.sql)
#   accord_app      NOLOGIN          the rights the running system needs (granted by the
#                                    migrations)
#   accord_service  LOGIN            the worker: a member of accord_app and nothing more
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v owner_password="$ACCORD_OWNER_PASSWORD" \
  -v service_password="$ACCORD_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE accord_owner LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE ROLE accord_app NOLOGIN;
CREATE ROLE accord_service LOGIN PASSWORD :'service_password' IN ROLE accord_app;
CREATE DATABASE accord OWNER accord_owner;
REVOKE ALL ON DATABASE accord FROM PUBLIC;
GRANT CONNECT ON DATABASE accord TO accord_owner, accord_service;
SQL
