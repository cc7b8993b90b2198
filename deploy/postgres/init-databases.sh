#!/bin/sh
# Runs once, on the first start of an empty data volume (docker-entrypoint-initdb.d).
#
#   temporal        LOGIN CREATEDB   creates and owns `temporal` and `temporal_visibility`
#                                    (temporal-sql-tool `create`, in the temporal-schema job)
#   accord_owner    LOGIN            owns database `accord`; runs the migrations
#   accord_app      NOLOGIN          the rights the running system needs (granted by the
#                                    migrations; created here so the owner needs no CREATEROLE)
#   accord_service  LOGIN            the worker: a member of accord_app and nothing more
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v owner_password="$ACCORD_OWNER_PASSWORD" \
  -v service_password="$ACCORD_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE accord_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE accord_app NOLOGIN;
CREATE ROLE accord_service LOGIN PASSWORD :'service_password' IN ROLE accord_app;
CREATE DATABASE accord OWNER accord_owner;
REVOKE ALL ON DATABASE accord FROM PUBLIC;
GRANT CONNECT ON DATABASE accord TO accord_owner, accord_service;
SQL
