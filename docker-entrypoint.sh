#!/bin/sh
# Container entry point: optionally migrate the metadata database, then run the command (granian).
set -eu

if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
    python manage.py migrate --noinput
fi

exec "$@"
