#!/bin/sh
# Run once by the postgres image on an empty data directory: the role Tater connects as —
# an ordinary role owning its database, neither superuser nor BYPASSRLS, so PostgreSQL's
# row-level security stands behind Tater's own tenant scoping — and that database.
set -eu
password=$(cat "${TATER_DB_PASSWORD_FILE:-/run/secrets/tater-db-password}")
psql -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  --set=password="$password" <<'SQL'
CREATE ROLE tater LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD :'password';
CREATE DATABASE tater OWNER tater;
REVOKE ALL ON DATABASE tater FROM PUBLIC;
SQL
