"""Preflight: a server process that cannot work refuses to start, with one line saying why.

Run by gateway/wsgi.py before the first request (issue #10): Django's system checks (an invalid
GATEWAY_ENCRYPTION_KEY is gateway.E001), a ping of the metadata database, unapplied migrations,
the local-memory cache under several worker processes (each would keep its own data cache and
rate-limit counters), and with GATEWAY_AUDIT=db the audit store (audit.store.problem: it answers
and is migrated). Without it the server would start and fail on every request.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from audit import store as audit_store

_WORKERS_FLAG = re.compile(r"^(?:--workers|-w)(?:=(\d+))?$")


def declared_workers() -> int:
    """How many worker processes serve this app, as far as can be told: the server's own
    `--workers N` / `-w N` (the parent process's command line, on Linux), else WEB_CONCURRENCY
    or GRANIAN_WORKERS. 1 when nothing says otherwise."""
    try:
        args = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")
    except (OSError, UnicodeDecodeError):
        args = []
    for index, arg in enumerate(args):
        match = _WORKERS_FLAG.match(arg)
        if match is None:
            continue
        value = match.group(1) or (args[index + 1] if index + 1 < len(args) else "")
        if value.isdigit():
            return int(value)
    for name in ("WEB_CONCURRENCY", "GRANIAN_WORKERS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 1


def _describe_database() -> str:
    db = settings.DATABASES["default"]
    vendor = str(db["ENGINE"]).rsplit(".", 1)[-1]
    if vendor == "sqlite3":
        return f"sqlite file {db['NAME']}"
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 'default port'}"
    return f"{vendor} database {db['NAME']} at {where}"


def _check_errors() -> str | None:
    found = [m for m in checks.run_checks() if m.level >= checks.ERROR and not m.is_silenced()]
    if not found:
        return None
    first = found[0]
    hint = f" {first.hint}" if first.hint else ""
    return f"{first.id}: {first.msg}{hint}"


def _metadata_problem() -> str | None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return (
            f"the metadata database ({_describe_database()}, DATABASE_URL) does not answer: "
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        )
    finally:
        if not connection.in_atomic_block:  # the probe's connection is not kept by this process
            connection.close()
    if pending:
        return (
            f"the metadata database ({_describe_database()}) lacks {len(pending)} migration(s): "
            "run `python manage.py migrate` (the container does with MIGRATE_ON_START=1)"
        )
    return None


def _cache_problem() -> str | None:
    backend = str(settings.CACHES["default"]["BACKEND"])
    workers = declared_workers()
    if backend.endswith("LocMemCache") and workers > 1:
        return (
            f"the local-memory cache is private to each process, so {workers} workers would "
            "each keep their own data cache and rate-limit counters: set CACHE_URL=redis://... "
            "(shared), or run one worker (WEB_CONCURRENCY=1 / --workers 1)"
        )
    return None


def _audit_problem() -> str | None:
    """GATEWAY_AUDIT=db: the audit store (a database of its own) answers and is migrated."""
    return audit_store.problem()


def preflight() -> str | None:
    """What stops this process from serving, in one line; None when it can serve."""
    return _check_errors() or _cache_problem() or _metadata_problem() or _audit_problem()
