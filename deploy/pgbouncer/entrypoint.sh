#!/bin/sh
# Writes PgBouncer's user list from the environment (the env file's YARDSTICK_DB_PASSWORD_*,
# never baked into the image), then runs PgBouncer in the foreground.
set -eu
umask 077
list=/tmp/userlist.txt
: > "$list"
for service in ingest metrics survey worker; do
  upper=$(echo "$service" | tr a-z A-Z)
  eval "password=\${YARDSTICK_DB_PASSWORD_${upper}:?YARDSTICK_DB_PASSWORD_${upper} is not set}"
  printf '"yardstick_%s" "%s"\n' "$service" "$password" >> "$list"
done
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
