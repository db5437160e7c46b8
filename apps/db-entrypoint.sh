#!/bin/sh
# A service's PostgreSQL in services.yml. On first start, generate its password into the folder only
# it and its app mount, owned by the app's user and readable by nobody else, and hand it to the
# image's own entrypoint (the official image's or make images' stand-in) as POSTGRES_PASSWORD_FILE,
# read as root. Only that first, initialising start gets it: the official image passes the password
# on to the server it starts in its environment, so later starts must not have it to pass.
set -eu
: "${APP_UID:?set APP_UID to the uid the service's app runs as}"
: "${PGDATA:?set PGDATA}"
secret=/run/db-secret/password
if [ -s "$PGDATA/PG_VERSION" ]; then
  if grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+all[[:space:]]+trust' "$PGDATA/pg_hba.conf"; then
    echo "db-entrypoint: this database was initialised without a password (trust), by an earlier" \
         "version: delete its data folder (volumes/docker/db_*) to start over with one" >&2
    exit 1
  fi
  if [ ! -s "$secret" ]; then
    echo "db-entrypoint: the database exists but its password file ($secret) is gone: delete its" \
         "data folder and secrets/db_* under the data dir to start over" >&2
    exit 1
  fi
else
  if [ ! -s "$secret" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret.new")
    mv "$secret.new" "$secret"
    echo "db-entrypoint: generated this database's password ($secret)"
  fi
  export POSTGRES_PASSWORD_FILE="$secret"
fi
chown -R "$APP_UID" /run/db-secret
chmod 700 /run/db-secret
chmod 400 "$secret"
exec docker-entrypoint.sh "$@"
