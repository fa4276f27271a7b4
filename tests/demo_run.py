"""An isolated `make run` demo for tests (tests/api/test_first_run.py,
tests/contract/test_readme_walkthrough.py): its own database on the test server, metadata and
audit in SQLite under a temporary folder, a free port, one worker, local-memory cache."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

from tests.servers import free_port


@contextmanager
def demo_environment(
    pg_server: str, folder: Path, *, label: str, admin_password: str
) -> Iterator[dict[str, str]]:
    """The environment of one demo run (`label` names its database, secret and cache); the
    demo's database is dropped afterwards."""
    name = f"gw_{label}_{uuid.uuid4().hex[:8]}"
    (folder / "prometheus").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DEMO_DATABASE_URL=pg_server,
        DEMO_DATABASE_NAME=name,
        DEMO_ADMIN_PASSWORD=admin_password,
        DATABASE_URL=f"sqlite:///{folder / 'metadata.sqlite3'}",
        GATEWAY_AUDIT_DATABASE_URL=f"sqlite:///{folder / 'audit.sqlite3'}",
        SECRET_KEY=f"{label}-test-secret-key-0123456789-0123456789",
        GATEWAY_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        CACHE_URL=f"locmemcache://{label}",
        WEB_CONCURRENCY="1",
        PORT=str(free_port()),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
    )
    try:
        yield env
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
