#!/bin/sh
# Run once by the postgres image when its data volume is first initialised
# (/docker-entrypoint-initdb.d). The image's own user (POSTGRES_USER) is a superuser, and a
# superuser bypasses row-level security even with FORCE: the app therefore connects as
# `omsref`, a plain role that owns the `omsref` database (and so its tables and their
# migrations) but is neither superuser nor BYPASSRLS. docs/security.md "Row-level security".
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE omsref LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
  PASSWORD :'app_password';
CREATE DATABASE omsref OWNER omsref;
SQL
