-- The replica's role in the compose stack, run by the postgres image on the volume's first
-- start (/docker-entrypoint-initdb.d): the volume keeps it and its password from then on
-- (README, "Credentials changed after the first start"). Not a superuser.
--
--   pgfanout_replicator  the replicators: CREATE on the database, for their bookkeeping
--                        schema pgfanout and for the replicated tables' schemas, whose tables
--                        it then owns (docs/replicator.md, Replica requirements;
--                        docs/schema.md, Privileges on the replica). Owning a keyless table
--                        is what lets it build its digest index there.
--
-- The password comes from the container's environment through \getenv, never from a command
-- line; the statement carrying it is kept out of the server log. Idempotent.
\set ON_ERROR_STOP on
\getenv replicator_password REPLICATOR_DB_PASSWORD
\if :{?replicator_password}
\else
  \warn 'REPLICATOR_DB_PASSWORD is not set in the environment (see .env.example)'
  SELECT 1/0 AS missing_password;
\endif

SET log_min_error_statement = panic;
SET log_statement = none;
SELECT 'CREATE ROLE pgfanout_replicator LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgfanout_replicator')
\gexec
ALTER ROLE pgfanout_replicator PASSWORD :'replicator_password';
RESET log_min_error_statement;
RESET log_statement;

SELECT format('GRANT CREATE ON DATABASE %I TO pgfanout_replicator', current_database())
\gexec
