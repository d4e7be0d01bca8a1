#!/bin/sh
# Runs once, when the data volume is first initialised (docker-entrypoint-initdb.d): each
# service's own login role, before the migrations (which find them and grant each its
# tables), and the worker's, which may act as the two services whose outboxes it delivers.
set -eu
for service in ingest metrics survey worker; do
  upper=$(echo "$service" | tr a-z A-Z)
  eval "password=\${YARDSTICK_DB_PASSWORD_${upper}:?YARDSTICK_DB_PASSWORD_${upper} is not set}"
  psql -v ON_ERROR_STOP=1 -v role="yardstick_$service" -v password="$password" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
GRANT yardstick_ingest, yardstick_survey TO yardstick_worker;
SQL
