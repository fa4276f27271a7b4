"""The audit store of its own, on real servers (issue #12): `manage.py migrate` migrates it beside
the metadata database; a server refuses to start on an unmigrated or unreachable store (not
with GATEWAY_AUDIT=log, which writes none); and a clean stop (SIGTERM to granian, as `docker
stop` sends) stores every event recorded before it, from every worker, in the store and never
in the metadata database: the default SQLite file of its own, and a PostgreSQL database.
"""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.api.test_scale_out import database_url
from tests.conftest import REDIS_URL, drop_redis_prefix, redis_caches
from tests.faults.test_startup import _refusal, _serve
from tests.servers import GatewayServer, free_port, granian_workers, manage

pytestmark = pytest.mark.slow

TABLE = "audit_auditevent"
EVENTS = 150


@dataclass
class Store:
    env: dict[str, str]  # the server's settings: metadata DB, audit store, cache
    workers: int
    read: Callable[[], list[str]]  # the request ids in the audit store
    metadata: Path  # the SQLite metadata file


def _sqlite_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(f"SELECT request_id FROM {TABLE}")]


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


@pytest.fixture(params=["sqlite file, 1 worker", "sqlite file, 2 workers", "postgresql"])
def store(request: pytest.FixtureRequest, pg_server: str, tmp_path: Path) -> Iterator[Store]:
    metadata = tmp_path / "metadata.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{metadata}", "CACHE_URL": "locmemcache://audit"}
    workers = 1 if request.param == "sqlite file, 1 worker" else 2
    prefix = f"audit{uuid.uuid4().hex[:8]}"
    if workers > 1:
        redis_caches(prefix)  # two workers share Redis (skips, or fails under CI, without one)
        env |= {"CACHE_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
    name = f"gw_audit_{uuid.uuid4().hex[:8]}"
    if request.param == "postgresql":
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        env["GATEWAY_AUDIT_DATABASE_URL"] = database_url(pg_server, name)
        conninfo = make_conninfo(pg_server, dbname=name)

        def read() -> list[str]:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                query = f"SELECT request_id FROM {TABLE}"
                return [row[0] for row in conn.execute(query).fetchall()]

    else:

        def read() -> list[str]:  # the default: a file of its own beside the metadata file
            return _sqlite_ids(tmp_path / "metadata-audit.sqlite3")

    try:
        yield Store(env, workers, read, metadata)
    finally:
        if workers > 1:
            drop_redis_prefix(prefix)
        if request.param == "postgresql":
            with psycopg.connect(pg_server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _wait_for_workers(log: Path, workers: int) -> None:
    """Until every worker has started (the server answers once the first has; granian's worker
    that gets SIGTERM while it still starts never exits), so each records some of the events."""
    deadline = time.monotonic() + 30
    while log.read_text().count("Started worker-") < workers:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_a_clean_stop_stores_every_event_recorded_before_it(store: Store, tmp_path: Path) -> None:
    # the flusher would first write after an hour: whatever is stored, the exit flush stored
    env = {**store.env, "GATEWAY_AUDIT_FLUSH_SECONDS": "3600", "GATEWAY_AUDIT_BATCH": "100000"}
    manage({**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}, "migrate", "-v0")
    assert TABLE not in _tables(store.metadata)  # `migrate` put it in the store only
    assert store.read() == []
    log = tmp_path / "gateway.log"
    server = GatewayServer(env, log, command=granian_workers(store.workers)).start()
    process = server.process
    assert process is not None
    try:
        _wait_for_workers(log, store.workers)
        ids = [f"stop-{n}-{uuid.uuid4().hex[:6]}" for n in range(EVENTS)]

        def send(request_id: str) -> int:  # a new connection each: the workers share them
            return server.call(
                "GET", "/api/v2/system/service", headers={"X-Request-ID": request_id}
            )[0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(send, ids)) == {401}
        assert store.read() == []  # waiting in the workers' buffers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        server.stop()
    stored = store.read()
    assert sorted(stored) == sorted(ids), log.read_text()
    assert TABLE not in _tables(store.metadata)
    assert "are lost" not in log.read_text()


# --- the preflight ----------------------------------------------------------------------------


def test_an_unmigrated_audit_store_stops_the_server_unless_audit_writes_none(
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}"}
    settings = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings, "migrate", "--database", "default", "-v0")  # the metadata database only
    code, output = _serve(env)
    assert code != 0
    line = _refusal(output)
    audit_file = tmp_path / "metadata-audit.sqlite3"
    assert line.startswith(f"the audit store (sqlite file {audit_file}) lacks 1 migration(s)"), line
    assert "run `python manage.py migrate`" in line

    # "log" writes JSON lines, not the store: it serves
    GatewayServer({**env, "GATEWAY_AUDIT": "log"}, tmp_path / "log.log").start().stop()

    manage(settings, "migrate", "-v0")  # both, as the README and MIGRATE_ON_START run it
    GatewayServer(env, tmp_path / "db.log").start().stop()


def test_an_unreachable_audit_store_stops_the_server(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        "GATEWAY_AUDIT_DATABASE_URL": f"postgres://gw:hunter2secret@127.0.0.1:{port}/audit",
    }
    manage(
        {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"},
        "migrate",
        "--database",
        "default",
        "-v0",
    )
    code, output = _serve(env)
    assert code != 0
    line = _refusal(output)
    assert line.startswith(
        f"the audit store (postgresql database audit at 127.0.0.1:{port}, "
        "GATEWAY_AUDIT_DATABASE_URL) does not answer"
    ), line
    assert "hunter2secret" not in output
