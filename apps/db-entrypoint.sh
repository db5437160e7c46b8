#!/bin/sh
# A service's PostgreSQL in services.yml. On first start, generate its password into the folder only
# it and its app mount, owned by the app's user and readable by nobody else; then run the image's own
# entrypoint (the official image's or make images' stand-in), which reads POSTGRES_PASSWORD_FILE as
# root before it drops to postgres. The password is in no environment and on no command line.
set -eu
: "${APP_UID:?set APP_UID to the uid the service's app runs as}"
secret=/run/db-secret/password
if [ ! -s "$secret" ]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret.new")
  mv "$secret.new" "$secret"
  echo "db-entrypoint: generated this database's password ($secret)"
fi
chown -R "$APP_UID" /run/db-secret
chmod 700 /run/db-secret
chmod 400 "$secret"
export POSTGRES_PASSWORD_FILE="$secret"
exec docker-entrypoint.sh "$@"
