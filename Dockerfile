# syntax=docker/dockerfile:1
# pg-gateway: production image. Runtime requirements only (requirements.txt), static files
# collected at build time, runs as a non-root user. Build with `make docker`.

# --- build: a virtualenv with the pinned runtime requirements, plus collected static files ---
FROM python:3.11-slim AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

WORKDIR /app
COPY . .
# Settings only need a throwaway metadata DB here; nothing is written to /app/.data.
RUN DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 python manage.py collectstatic --noinput

# --- runtime ---
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=gateway.settings \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

# xmlsec1: pysaml2 checks SAML signatures with it (SAML sign-in providers)
RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
# Code stays root-owned (read-only to the app); only .data/ (default SQLite metadata) is writable.
COPY --from=build /app /app
RUN mkdir -p /app/.data && chown app:app /app/.data

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# /health answers 200 while the process answers (no I/O; /ready, for a load balancer, checks the
# metadata DB and the cache). The Host header is taken from ALLOWED_HOSTS so the check passes
# when that is narrowed (no curl in the image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', '127.0.0.1').split(',')[0].strip().lstrip('.').replace('*', 'localhost') or '127.0.0.1'; u.urlopen(u.Request('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), headers={'Host': h}), timeout=4)"]

# Runs `manage.py migrate` first when MIGRATE_ON_START=1, then execs the command.
ENTRYPOINT ["sh", "/app/docker-entrypoint.sh"]
# Metrics of all workers (README "Operations"): the samples directory starts empty on each start;
# set PROMETHEUS_MULTIPROC_DIR empty to have each worker report its own.
CMD ["sh", "-c", "if [ -n \"$PROMETHEUS_MULTIPROC_DIR\" ]; then mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && rm -f \"$PROMETHEUS_MULTIPROC_DIR\"/*.db; fi; exec granian --interface wsgi --host 0.0.0.0 --port ${PORT:-8000} --workers ${WEB_CONCURRENCY:-2} --blocking-threads ${WEB_THREADS:-2} --no-ws gateway.wsgi:application"]
