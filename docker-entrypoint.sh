#!/bin/sh
# Container entry point: optionally migrate the metadata database and the audit store, then run
# the command (granian).
set -eu

# The local-memory cache is private to each process: several workers would each keep their own
# data cache and rate-limit counters (the server refuses to start that way), so run one.
case "${CACHE_URL:-}" in
    "" | locmem*)
        if [ "${WEB_CONCURRENCY:-2}" != "1" ]; then
            echo "pg-gateway: no shared cache (CACHE_URL unset or local memory): running one" \
                "worker; set CACHE_URL=redis://... to run WEB_CONCURRENCY workers" >&2
            export WEB_CONCURRENCY=1
        fi
        ;;
esac

if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
    # both: the metadata database, then the audit store (GATEWAY_AUDIT_DATABASE_URL)
    python manage.py migrate --noinput
fi

exec "$@"
