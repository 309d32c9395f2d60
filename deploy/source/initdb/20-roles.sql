-- The source's roles in the compose stack, one per job, none a superuser. Run by the postgres
-- image on the volume's first start (/docker-entrypoint-initdb.d, after the demo schema): the
-- volume keeps the roles and their passwords from then on, so a password changed in .env
-- later is NOT applied (README, "Credentials changed after the first start").
--
--   pgfanout_owner      owns the capture: runs `publisher migrate`, grants.sql and track.sql
--   pgfanout_publisher  the publisher: exactly docs/capture.md's tested GRANTs (grants.sql)
--   pgfanout_copier     the replicators' --source-url: docs/bootstrap.md's read-only GRANTs
--   pgfanout_writer     the demo workload: writes the demo tables, cannot see pgfanout's log
--
-- Passwords come from the container's environment through \getenv, never from a command
-- line; statements carrying one are kept out of the server log. Idempotent (re-running it
-- changes nothing, and sets the passwords from the environment again).
\set ON_ERROR_STOP on
\getenv owner_password OWNER_DB_PASSWORD
\getenv publisher_password PUBLISHER_DB_PASSWORD
\getenv copier_password COPIER_DB_PASSWORD
\getenv writer_password WRITER_DB_PASSWORD
\if :{?owner_password}
\else
  \warn 'OWNER_DB_PASSWORD is not set in the environment (see .env.example)'
  SELECT 1/0 AS missing_password;
\endif
\if :{?publisher_password}
\else
  \warn 'PUBLISHER_DB_PASSWORD is not set in the environment (see .env.example)'
  SELECT 1/0 AS missing_password;
\endif
\if :{?copier_password}
\else
  \warn 'COPIER_DB_PASSWORD is not set in the environment (see .env.example)'
  SELECT 1/0 AS missing_password;
\endif
\if :{?writer_password}
\else
  \warn 'WRITER_DB_PASSWORD is not set in the environment (see .env.example)'
  SELECT 1/0 AS missing_password;
\endif

-- A failing statement is logged with its text by default: not one holding a password.
SET log_min_error_statement = panic;
SET log_statement = none;

SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY['pgfanout_owner', 'pgfanout_publisher', 'pgfanout_copier', 'pgfanout_writer']) r
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r)
\gexec
ALTER ROLE pgfanout_owner PASSWORD :'owner_password';
ALTER ROLE pgfanout_publisher PASSWORD :'publisher_password';
ALTER ROLE pgfanout_copier PASSWORD :'copier_password';
ALTER ROLE pgfanout_writer PASSWORD :'writer_password';
RESET log_min_error_statement;
RESET log_statement;

-- The capture owner (docs/capture.md, Security): CREATE on the database for schema pgfanout,
-- CREATE on schema public for the migrations' version table (pgfanout_schema_migrations),
-- TRIGGER on every table it tracks.
SELECT format('GRANT CREATE ON DATABASE %I TO pgfanout_owner', current_database())
\gexec
GRANT CREATE ON SCHEMA public TO pgfanout_owner;
GRANT USAGE ON SCHEMA demo TO pgfanout_owner;
GRANT TRIGGER ON demo.customers, demo.orders, demo.events TO pgfanout_owner;

-- The copier reads each tracked table (its grants on schema pgfanout: grants.sql).
GRANT USAGE ON SCHEMA demo TO pgfanout_copier;
GRANT SELECT ON demo.customers, demo.orders, demo.events TO pgfanout_copier;

-- The application writes its tables as usual; the triggers do the rest.
GRANT USAGE ON SCHEMA demo TO pgfanout_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON demo.customers, demo.orders, demo.events TO pgfanout_writer;
