"""One psycopg_pool.ConnectionPool per service, guarded by a circuit breaker (issue #10).

Connections are autocommit (a read is one round trip, no BEGIN/COMMIT); writes open an explicit
transaction. statement_timeout, TimeZone and the SSL settings are set per connection by libpq.

Faults: a checked-out connection whose socket already holds the server's goodbye (a restart,
pg_terminate_backend) is never handed out. When a connection dies, one direct connect tells a
dead server from a dead connection: a dead server opens the breaker (every call answers 503 at
once) and closes the pool; a background probe reconnects and puts a fresh pool in place; a live
server means the idle connections are stale, so the pool is drained. Only
services/db/executor.py checks connections out.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from core.errors import ServiceUnavailable
from services.config import ServiceConfig
from services.db import db_identity
from services.db.breaker import Breaker, unavailable
from services.db.pgerrors import classify_connect_error

log = logging.getLogger(__name__)

Connection = psycopg.Connection[Any]

FIRST_WAIT = 0.1  # seconds a checkout waits before asking whether the server is there at all
PROBE_FIRST_DELAY = 0.05  # the background probe's first retry, doubling up to
PROBE_MAX_DELAY = 0.25  # so a server that is back is found within a quarter second
VERIFY_FRESH = 1.0  # a successful direct connect vouches for the server this long
DRAIN_EVERY = 0.5  # at most one drain of stale connections per this many seconds


def conninfo_for(config: ServiceConfig) -> str:
    """The libpq connection string for a service (password included: never log it)."""
    options = []
    if config.statement_timeout:
        options.append(f"-c statement_timeout={int(config.statement_timeout)}")
    if config.timezone:
        options.append(f"-c TimeZone={config.timezone}")
    params: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "dbname": config.database,
        "user": config.username or None,
        "password": config.password or None,
        "sslmode": config.sslmode or None,
        "sslrootcert": config.sslrootcert or None,
        "application_name": config.application_name or None,
        "client_encoding": "utf8",
        "connect_timeout": settings.GATEWAY_CONNECT_TIMEOUT,
        "options": " ".join(options) or None,
    }
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def connect_once(config: ServiceConfig) -> Connection:
    """A single direct connection (the test-connection call, probes)."""
    return psycopg.connect(conninfo_for(config), autocommit=True)


def diagnose(config: ServiceConfig) -> ServiceUnavailable | None:
    """Try one direct connection; its failure as an actionable 503, or None when it works."""
    try:
        with connect_once(config):
            pass
    except psycopg.Error as exc:
        kind, message = classify_connect_error(exc)
        return unavailable(
            f"Database connection failed for service '{config.name}': {message}", reason=kind
        )
    return None


def _pool_exhausted(config: ServiceConfig) -> ServiceUnavailable:
    return unavailable(
        f"No free database connection for service '{config.name}' in time; "
        "the pool is exhausted (raise pool_max, or retry).",
        reason="pool_exhausted",
    )


def looks_dead(conn: Connection) -> bool:
    """Whether an idle connection is unusable. An idle connection has nothing to read unless the
    server sent something unasked: usually its goodbye (shutdown, terminated backend). Costs
    one poll() while the socket is quiet (under a microsecond)."""
    if conn.closed:
        return True
    try:
        poller = select.poll()
        poller.register(conn.pgconn.socket, select.POLLIN)
        if not poller.poll(0):
            return False
        conn.execute("")  # a notice or parameter change is read and the connection stays
    except (psycopg.Error, OSError, ValueError):
        return True
    return False


class ServicePool:
    """The pool of one service configuration, opened on first use, with its breaker."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.breaker = Breaker(config.name)
        self._lock = threading.Lock()  # opening, replacing and closing the pool
        self._verify_lock = threading.Lock()  # one direct connect at a time
        self._pool: ConnectionPool[Connection] | None = None
        self._closed = threading.Event()
        self._prober: threading.Thread | None = None
        self._verified_at = float("-inf")
        self._drained_at = float("-inf")

    # --- checkout ----------------------------------------------------------------------------

    @contextmanager
    def connection(self, *, catalog: bool = False) -> Iterator[Connection]:
        """A live pooled connection; 503 at once while the breaker is open.

        Inside a request on a service with database roles, the connection runs in one
        transaction as the caller's database identity (services/db/db_identity.py);
        `catalog=True` (schema introspection, shared by every caller) runs as the service's
        own user.
        """
        pool, conn = self._acquire()
        # No `with conn:` here: pooled connections are in autocommit, so its commit at the end
        # would only cost a lock and a round of psycopg's wait loop per request; a transaction
        # a block opened is closed by its own `conn.transaction()`, and the pool rolls back
        # anything still open when the connection comes back.
        try:
            identity = db_identity.current() if self.config.use_db_roles and not catalog else None
            if identity is None:
                yield conn
            else:
                with conn.transaction():
                    db_identity.apply(conn, identity)
                    yield conn
        finally:
            pool.putconn(conn)  # a broken connection is discarded and replaced by the pool

    def _acquire(self) -> tuple[ConnectionPool[Connection], Connection]:
        deadline = time.monotonic() + settings.GATEWAY_POOL_TIMEOUT
        for _ in range(self.config.pool_max + 2):
            self.breaker.check()
            pool = self._pool or self._open()
            conn = self._getconn(pool, deadline)
            if not looks_dead(conn):
                return pool, conn
            pool.putconn(conn)
            self.connection_lost()
        raise _pool_exhausted(self.config)

    def _getconn(self, pool: ConnectionPool[Connection], deadline: float) -> Connection:
        try:
            try:
                return pool.getconn(timeout=min(FIRST_WAIT, max(deadline - time.monotonic(), 0)))
            except PoolTimeout:
                pass
            # No idle connection at once: busy, or no server to connect to? Ask it directly,
            # so a dead server fails this call now instead of at the pool timeout.
            failure = self.verify()
            if failure is not None:
                raise failure
            return pool.getconn(timeout=max(deadline - time.monotonic(), 0.001))
        except PoolTimeout:
            self.breaker.check()
            raise _pool_exhausted(self.config) from None
        except PoolClosed:  # the breaker opened, or the settings changed, while we waited
            self.breaker.check()
            raise unavailable(
                f"The connection pool of service '{self.config.name}' was replaced while the "
                "request waited; retry.",
                reason="pool_replaced",
            ) from None

    def _open(self) -> ConnectionPool[Connection]:
        with self._lock:
            if self._closed.is_set():
                raise unavailable(
                    f"Service '{self.config.name}' was reconfigured; retry.", reason="pool_replaced"
                )
            if self._pool is None:
                self.breaker.check()
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> ConnectionPool[Connection]:
        """Connect directly first (fail fast, with the reason), then open a full pool."""
        failure = diagnose(self.config)
        if failure is None:
            pool: ConnectionPool[Connection] = ConnectionPool(
                conninfo_for(self.config),
                min_size=max(0, min(self.config.pool_min, self.config.pool_max)),
                max_size=max(1, self.config.pool_max),
                kwargs={"autocommit": True},
                timeout=settings.GATEWAY_POOL_TIMEOUT,
                name=f"service:{self.config.name}",
                open=False,
            )
            try:
                pool.open(wait=True, timeout=settings.GATEWAY_CONNECT_TIMEOUT + 1)
                self._verified_at = time.monotonic()
                return pool
            except PoolTimeout:
                pool.close(timeout=0)
                failure = diagnose(self.config) or unavailable(
                    f"Database connection failed for service '{self.config.name}': the pool "
                    "could not open its connections in time.",
                    reason="timeout",
                )
        self._trip(failure, pool_locked=True)
        raise failure

    # --- failures ----------------------------------------------------------------------------

    def verify(self, *, force: bool = False) -> ServiceUnavailable | None:
        """Is the server there? One direct connect (shared by concurrent callers); a failure
        opens the breaker. Skipped when a connect succeeded within VERIFY_FRESH, unless forced."""
        if self.breaker.is_open:
            return _open_error(self.breaker)
        started = time.monotonic()
        if not force and started - self._verified_at < VERIFY_FRESH:
            return None
        with self._verify_lock:
            if self.breaker.is_open:
                return _open_error(self.breaker)
            if self._verified_at >= started:  # another caller connected while we waited
                return None
            failure = diagnose(self.config)
            if failure is None:
                self._verified_at = time.monotonic()
                return None
        self._trip(failure)
        return failure

    def connection_lost(self) -> None:
        """A connection died. A dead server opens the breaker; a live one means the idle
        connections are stale too (a restart, or pg_terminate_backend): drain them."""
        if self.verify(force=True) is not None:
            return
        now = time.monotonic()
        pool = self._pool
        if pool is not None and now - self._drained_at >= DRAIN_EVERY:
            self._drained_at = now
            log.warning("service %s: stale connections found; replacing them", self.config.name)
            pool.drain()

    def _trip(self, failure: ServiceUnavailable, *, pool_locked: bool = False) -> None:
        if not self.breaker.trip(failure):
            return
        log.warning(
            "service %s: database unreachable (%s); answering 503 until a probe reconnects",
            self.config.name,
            (failure.context or {}).get("reason"),
        )
        if pool_locked:
            old, self._pool = self._pool, None
        else:
            with self._lock:
                old, self._pool = self._pool, None
        if old is not None:
            old.close(timeout=0)  # waiting callers fail at once; busy connections close on return
        prober = threading.Thread(target=self._probe, name=f"probe:{self.config.name}", daemon=True)
        self._prober = prober
        prober.start()

    def _probe(self) -> None:
        """Background: reconnect until the server answers, then a fresh pool closes the breaker."""
        delay = PROBE_FIRST_DELAY
        while not self._closed.wait(delay):
            delay = min(delay * 2, PROBE_MAX_DELAY)
            failure = diagnose(self.config)
            if failure is not None:
                self.breaker.trip(failure)  # keep the newest reason (e.g. now "starting up")
                continue
            with self._lock:
                if self._closed.is_set():
                    return
                try:
                    self._pool = self._new_pool()
                except ServiceUnavailable:
                    continue
            self.breaker.reset()
            log.warning(
                "service %s: database reachable again after %.2f s",
                self.config.name,
                time.monotonic() - self.breaker.opened_at,
            )
            return

    # --- life cycle --------------------------------------------------------------------------

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=1.0)
                self._pool = None

    def stats(self) -> dict[str, int]:
        pool = self._pool
        return dict(pool.get_stats()) if pool is not None else {}


def _open_error(breaker: Breaker) -> ServiceUnavailable | None:
    try:
        breaker.check()
    except ServiceUnavailable as exc:
        return exc
    return None
