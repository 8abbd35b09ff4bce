-- PostgreSQL roles for utxoiq-ingest: least privilege, migrations separate from runtime.
--
--   utxoiq_migrate  owns schema "utxoiq" and every table in it; runs `utxoiq db upgrade`.
--   utxoiq_ingest   runtime role of `utxoiq consume`: SELECT, INSERT, UPDATE on the tables
--                   of schema "utxoiq" only; no DELETE, TRUNCATE or DDL (its COPY staging
--                   tables are session-private temporary tables, hence TEMPORARY).
--   utxoiq_read     read side (`utxoiq query`, the platform's queries): SELECT on the tables
--                   of schema "utxoiq" only.
--
-- Every role gets search_path = utxoiq in this database, so the service needs no schema
-- setting. Run as an administrator, connected to the service's database, before the
-- first migration; it is idempotent, so run it again after migrations as well:
--
--   psql "postgresql://admin@host/utxoiq" -v ON_ERROR_STOP=1 \
--     -v migrate_password="$MIGRATE_PASSWORD" -v ingest_password="$INGEST_PASSWORD" \
--     -v read_password="$READ_PASSWORD" -f deploy/postgres-roles.sql
--
-- Then DATABASE_URL is postgresql://utxoiq_migrate:...@host/utxoiq for the migration Job
-- , postgresql://utxoiq_ingest:...@host/utxoiq for the consumers and
-- postgresql://utxoiq_read:...@host/utxoiq for the read side.

\if :{?read_password}
\else
  \echo 'set -v migrate_password=..., -v ingest_password=... and -v read_password=...'
  \quit
\endif

SELECT format('CREATE ROLE utxoiq_migrate LOGIN PASSWORD %L', :'migrate_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'utxoiq_migrate')
\gexec
SELECT format('CREATE ROLE utxoiq_ingest LOGIN PASSWORD %L', :'ingest_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'utxoiq_ingest')
\gexec
SELECT format('CREATE ROLE utxoiq_read LOGIN PASSWORD %L', :'read_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'utxoiq_read')
\gexec

ALTER ROLE utxoiq_migrate NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE utxoiq_ingest NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE utxoiq_read NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE utxoiq_ingest CONNECTION LIMIT 50;

-- Nobody but the owner creates objects in the public schema (the default since PostgreSQL 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

SELECT format('GRANT CONNECT ON DATABASE %I TO utxoiq_migrate, utxoiq_ingest, utxoiq_read',
              current_database())
\gexec
SELECT format('GRANT TEMPORARY ON DATABASE %I TO utxoiq_ingest', current_database())
\gexec
SELECT format('ALTER ROLE %I IN DATABASE %I SET search_path = utxoiq', r, current_database())
FROM unnest(ARRAY['utxoiq_migrate', 'utxoiq_ingest', 'utxoiq_read']) AS r
\gexec

CREATE SCHEMA IF NOT EXISTS utxoiq AUTHORIZATION utxoiq_migrate;
ALTER SCHEMA utxoiq OWNER TO utxoiq_migrate;
REVOKE ALL ON SCHEMA utxoiq FROM PUBLIC;
GRANT USAGE ON SCHEMA utxoiq TO utxoiq_ingest, utxoiq_read;

-- Tables the migration role creates from now on: read and write, never delete or alter.
ALTER DEFAULT PRIVILEGES FOR ROLE utxoiq_migrate IN SCHEMA utxoiq
  GRANT SELECT, INSERT, UPDATE ON TABLES TO utxoiq_ingest;
ALTER DEFAULT PRIVILEGES FOR ROLE utxoiq_migrate IN SCHEMA utxoiq
  GRANT USAGE ON SEQUENCES TO utxoiq_ingest;
ALTER DEFAULT PRIVILEGES FOR ROLE utxoiq_migrate IN SCHEMA utxoiq
  GRANT SELECT ON TABLES TO utxoiq_read;

-- Tables that exist already (a re-run after migrations).
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA utxoiq TO utxoiq_ingest;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA utxoiq TO utxoiq_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA utxoiq TO utxoiq_read;

-- The runtime only reads the schema version (it refuses to start on an old schema).
SELECT 'REVOKE INSERT, UPDATE ON utxoiq.alembic_version FROM utxoiq_ingest'
WHERE to_regclass('utxoiq.alembic_version') IS NOT NULL
\gexec
