"""A stand for fault tests and bench/faults.py: a real gateway (granian) in front of two
services, one on a private PostgreSQL that may be stopped, killed and restarted, one on the
shared server that must keep answering; and a bounded load that records every answer.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools.pg_instance import PrivatePostgres
from tests.conftest import REDIS_URL, drop_redis_prefix, redis_reachable
from tests.servers import GatewayServer, granian_workers, manage

ADMIN = {"email": "faults@example.com", "password": "faults-password-1234"}
CREATE_ADMIN = (
    "from rbac.models import User; "
    f"User.objects.create_superuser('{ADMIN['email']}', '{ADMIN['password']}')"
)
TABLE_SQL = (
    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);"
    "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g;"
)
FAULTY = "/api/v2/faulty/_table/items"
STEADY = "/api/v2/steady/_table/items"


@dataclass
class Stand:
    pg: PrivatePostgres  # the faulty service's server
    gateway: GatewayServer
    headers: dict[str, str]
    workers: int
    steady_conninfo: str

    def read(self, path: str) -> tuple[int, Any, dict[str, str]]:
        return self.gateway.call("GET", path, headers=self.headers, timeout=15)


def _service(name: str, conninfo: str) -> dict[str, Any]:
    params = conninfo_to_dict(conninfo)
    config = {
        "host": params.get("host") or "127.0.0.1",
        "port": int(params.get("port") or 5432),
        "database": params["dbname"],
        "username": params.get("user") or "postgres",
        "password": params.get("password") or "",
        "schema": "public",
        "sslmode": "disable",
        "pool_min": 2,
        "pool_max": 4,
    }
    return {"name": name, "config": config}


@contextmanager
def stand(shared_server: str, tmp: Path, *, workers: int = 2, **env: str) -> Iterator[Stand]:
    """The private server, a database on the shared one, and the gateway with both services.

    With Redis the gateway runs `workers` processes sharing it; without, one process on the
    local-memory cache (which the gateway refuses to share between processes).
    """
    pg = PrivatePostgres().init().start()
    steady_db = f"gw_steady_{uuid.uuid4().hex[:8]}"
    prefix = f"faults{uuid.uuid4().hex[:8]}"
    gateway: GatewayServer | None = None
    shared = redis_reachable()
    try:
        with pg.connect() as conn:
            conn.execute("CREATE DATABASE faulty")
        with pg.connect("faulty") as conn:
            conn.execute(TABLE_SQL)
        with psycopg.connect(shared_server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(steady_db)))
        steady = make_conninfo(shared_server, dbname=steady_db)
        with psycopg.connect(steady, autocommit=True) as conn:
            conn.execute(TABLE_SQL)
        settings = {
            "DATABASE_URL": f"sqlite:///{tmp / 'metadata.sqlite3'}",
            "GATEWAY_AUDIT_FLUSH_SECONDS": "0.2",
            **(
                {"CACHE_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
                if shared
                else {"CACHE_URL": "locmemcache://faults"}
            ),
            **env,
        }
        manage({**settings, "DJANGO_SETTINGS_MODULE": "gateway.settings"}, "migrate", "-v0")
        manage(
            {**settings, "DJANGO_SETTINGS_MODULE": "gateway.settings"},
            *("shell", "-v0", "-c", CREATE_ADMIN),
        )
        count = workers if shared else 1
        gateway = GatewayServer(settings, tmp / "gateway.log", command=granian_workers(count))
        gateway.start()
        status, body, _ = gateway.call("POST", "/api/v2/system/admin/session", ADMIN)
        assert status == 200, body
        headers = {"X-DreamFactory-Session-Token": body["session_token"]}
        services = [_service("faulty", pg.conninfo("faulty")), _service("steady", steady)]
        status, body, _ = gateway.call(
            "POST", "/api/v2/system/service", {"resource": services}, headers=headers
        )
        assert status == 201, body
        yield Stand(pg, gateway, headers, count, steady)
    finally:
        if gateway is not None:
            gateway.stop()
        pg.destroy()
        if shared:
            drop_redis_prefix(prefix)
        with psycopg.connect(shared_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(steady_db))
            )


@dataclass(frozen=True, slots=True)
class Answer:
    path: str
    started: float  # time.monotonic() when sent
    elapsed: float  # seconds until the whole answer was read
    status: int  # 0: no HTTP answer (connection refused or reset)
    retry_after: str | None
    message: str
    server_ms: float | None = None  # the gateway's own time (its Server-Timing header)

    @property
    def ended(self) -> float:
        return self.started + self.elapsed


@dataclass
class Load:
    """`threads` clients per path, each sending GETs back to back on a kept-alive connection,
    until stop(), `max_requests` or `max_seconds` (whichever comes first)."""

    port: int
    headers: dict[str, str]
    paths: list[str]
    threads: int = 2
    max_requests: int = 50_000
    max_seconds: float = 60.0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _client(self, path: str) -> None:
        conn: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.monotonic()
            try:
                conn.request("GET", path, headers=self.headers)
                response = conn.getresponse()
                raw = response.read()
                status, retry = response.status, response.getheader("Retry-After")
                timing = response.getheader("Server-Timing")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = None
                status, retry, raw, timing = 0, None, str(exc).encode(), None
            elapsed = time.monotonic() - started
            message = ""
            if status != 200:
                try:
                    message = str(orjson.loads(raw)["error"]["message"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    message = raw[:200].decode(errors="replace")
            with self._lock:
                answer = Answer(path, started, elapsed, status, retry, message, server_ms(timing))
                self.answers.append(answer)
                if len(self.answers) >= self.max_requests:
                    self._stop.set()
            if status == 0:
                time.sleep(0.01)
        if conn is not None:
            conn.close()

    def start(self) -> Load:
        for path in self.paths:
            for n in range(self.threads):
                worker = threading.Thread(target=self._client, args=(path,), name=f"load-{n}")
                self._workers.append(worker)
                worker.start()
        return self

    def stop(self) -> list[Answer]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=40)
        return sorted(self.answers, key=lambda a: a.started)


def server_ms(timing: str | None) -> float | None:
    """The sum of a Server-Timing header's durations (`auth;dur=0.4, db;dur=0.9`)."""
    if not timing:
        return None
    total = 0.0
    for part in timing.split(","):
        _, _, duration = part.partition("dur=")
        try:
            total += float(duration)
        except ValueError:
            return None
    return total


def on(answers: list[Answer], path: str) -> list[Answer]:
    return [a for a in answers if a.path == path]


def between(answers: list[Answer], start: float, end: float) -> list[Answer]:
    """Answers to requests sent at or after `start` and finished by `end`."""
    return [a for a in answers if a.started >= start and a.ended <= end]
