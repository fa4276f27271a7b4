"""Find a PostgreSQL server for the demo and the tests: a given URL, the local one, or embedded.

Order: the URL passed in (DEMO_DATABASE_URL / TEST_DATABASE_URL), then 127.0.0.1:5432 as user
postgres when it answers, then an embedded server from PyPI's `pgserver` in .data/. Dev tooling
only: the gateway itself never starts a database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
LOCAL = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=2"


def reachable(conninfo: str) -> bool:
    try:
        with psycopg.connect(conninfo, connect_timeout=2, autocommit=True) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def embedded(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) an embedded PostgreSQL in `data_dir`; yields a conninfo."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    uri = server.get_uri()
    try:
        yield uri
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()
        # pgserver logs again from an atexit hook, after test runners closed their streams
        logging.getLogger("pgserver").disabled = True


@contextlib.contextmanager
def find_server(env_var: str = "TEST_DATABASE_URL", embedded_dir: str = "test-pg") -> Iterator[str]:
    """Yield a conninfo for a server where databases may be created."""
    given = os.environ.get(env_var)
    if given:
        yield given
        return
    if os.environ.get("GATEWAY_FORCE_EMBEDDED_PG") != "1" and reachable(LOCAL):
        yield LOCAL
        return
    log.warning("no PostgreSQL at 127.0.0.1:5432; starting an embedded one (pgserver)")
    with embedded(ROOT / ".data" / embedded_dir) as uri:
        yield uri
