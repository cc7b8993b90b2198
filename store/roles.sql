-- Roles for Accord's event store on a PostgreSQL server of your own (DATABASE_URL set).
-- Run once as a superuser, with psql variables for the passwords, e.g.
--
--   psql -v ON_ERROR_STOP=1 -v owner_password="$OWNER_PW" -v service_password="$SERVICE_PW" \
--        -d postgres -f store/roles.sql
--
-- then migrate as the owner and run the worker and the CLI as the service role:
--
--   DATABASE_URL=postgresql://accord_owner:...@db/accord   accord db migrate
--   DATABASE_URL=postgresql://accord_service:...@db/accord accord worker
--
-- accord_owner    LOGIN   owns database `accord`, the schema and every object in it;
--                         runs the migrations. CREATEROLE only because the first
--                         migrations create accord_app if it is missing (PostgreSQL checks
--                         that right before it sees the role exists); once migrated you may
--                         ALTER ROLE accord_owner NOCREATEROLE.
-- accord_app      NOLOGIN what the running system may do (granted by the migrations): read
--                         the log, append through the append functions only, keep the
--                         read models and the consumer checkpoints.
-- accord_service  LOGIN   the worker and the CLI: a member of accord_app, nothing more.
--                         Never a superuser, never the owner.
--
-- In pg_hba.conf give these roles scram-sha-256 (never trust), e.g.
--   hostssl accord accord_owner,accord_service 10.0.0.0/8 scram-sha-256

SET password_encryption = 'scram-sha-256';
CREATE ROLE accord_owner LOGIN CREATEROLE PASSWORD :'owner_password';
CREATE ROLE accord_app NOLOGIN;
CREATE ROLE accord_service LOGIN PASSWORD :'service_password' IN ROLE accord_app;
CREATE DATABASE accord OWNER accord_owner;
REVOKE ALL ON DATABASE accord FROM PUBLIC;
GRANT CONNECT ON DATABASE accord TO accord_service;
