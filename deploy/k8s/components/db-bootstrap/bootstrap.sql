-- Pledge database bootstrap: one role per service, each the owner of its own schema.
--
--   role               schema       used by
--   pledge_commitment  commitment   commitment-svc (Deployment and migration Job)
--   pledge_tracking    tracking     tracking-svc
--   pledge_evaluation  evaluation   evaluation-svc
--   pledge_feedback    feedback     feedback-svc
--   pledge_gateway     gateway      gateway
--   pledge_console     console      console (the web console's accounts and sessions)
--
-- Run once, and again whenever a password changes (it is idempotent), as a superuser or a role with
-- CREATEROLE, connected to Pledge's database; passwords come from the environment (psql >= 15):
--   PLEDGE_COMMITMENT_DB_PASSWORD=... PLEDGE_TRACKING_DB_PASSWORD=... PLEDGE_EVALUATION_DB_PASSWORD=... \
--   PLEDGE_FEEDBACK_DB_PASSWORD=... PLEDGE_GATEWAY_DB_PASSWORD=... PLEDGE_CONSOLE_DB_PASSWORD=... \
--   psql "postgresql://admin@host:5432/pledge" -v ON_ERROR_STOP=1 -f bootstrap.sql
-- Kubernetes runs it as the Job `pledge-db-bootstrap` (this directory); docker compose as an init script.
-- A service's role can use only its own schema: services share no tables, they talk over HTTP.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\getenv commitment_password PLEDGE_COMMITMENT_DB_PASSWORD
\getenv tracking_password PLEDGE_TRACKING_DB_PASSWORD
\getenv evaluation_password PLEDGE_EVALUATION_DB_PASSWORD
\getenv feedback_password PLEDGE_FEEDBACK_DB_PASSWORD
\getenv gateway_password PLEDGE_GATEWAY_DB_PASSWORD
\getenv console_password PLEDGE_CONSOLE_DB_PASSWORD

-- roles (created once; the password is set on every run)
SELECT format('CREATE ROLE %I LOGIN', 'pledge_' || s)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pledge_' || s)
\gexec
ALTER ROLE pledge_commitment WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'commitment_password';
ALTER ROLE pledge_tracking WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'tracking_password';
ALTER ROLE pledge_evaluation WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'evaluation_password';
ALTER ROLE pledge_feedback WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'feedback_password';
ALTER ROLE pledge_gateway WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'gateway_password';
ALTER ROLE pledge_console WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'console_password';

-- a non-superuser admin (managed Postgres) must be a member of a role to give it a schema
SELECT format('GRANT %I TO %I', 'pledge_' || s, current_user)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
  AND NOT pg_has_role(current_user, 'pledge_' || s, 'MEMBER')
\gexec

-- each role connects to this database and owns its schema (tables, sequences, alembic_version inside)
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), 'pledge_' || s)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
\gexec
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', s, 'pledge_' || s)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
\gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', s, 'pledge_' || s)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
\gexec
-- the migrations start with CREATE SCHEMA IF NOT EXISTS, which Postgres checks against the database's
-- CREATE privilege even when the schema exists
SELECT format('GRANT CREATE ON DATABASE %I TO %I', current_database(), 'pledge_' || s)
FROM unnest(ARRAY['commitment', 'tracking', 'evaluation', 'feedback', 'gateway', 'console']) AS s
\gexec

-- nobody else creates objects in `public` (the default from Postgres 15 on; explicit for older servers)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
