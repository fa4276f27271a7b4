"""One psycopg_pool.ConnectionPool per service: opened on first use, closed when replaced.

Connections are autocommit (a read is one round trip, no BEGIN/COMMIT); writes open an explicit
transaction. statement_timeout, TimeZone and the SSL settings are set per connection by libpq.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from django.conf import settings
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.errors import ServiceUnavailable
from services import db_identity
from services.config import ServiceConfig
from services.pgerrors import classify_connect_error


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


def connect_once(config: ServiceConfig) -> psycopg.Connection[Any]:
    """A single direct connection (for the test-connection call and diagnostics)."""
    return psycopg.connect(conninfo_for(config), autocommit=True)


def diagnose(config: ServiceConfig, *, only_failure: bool = False) -> ServiceUnavailable | None:
    """Try one direct connection and turn its failure into an actionable 503."""
    try:
        with connect_once(config):
            pass
    except psycopg.Error as exc:
        kind, message = classify_connect_error(exc)
        return ServiceUnavailable(
            f"Database connection failed for service '{config.name}': {message}",
            context={"reason": kind},
        )
    if only_failure:
        return None
    return ServiceUnavailable(
        f"No free database connection for service '{config.name}' in time; "
        "the pool is exhausted (raise pool_max, or retry).",
        context={"reason": "pool_exhausted"},
    )


class ServicePool:
    """A lazily opened pool for one service configuration."""

    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None

    def _open(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is not None:
                return self._pool
            failure = diagnose(self.config, only_failure=True)  # fail fast, with the reason
            if failure is not None:
                raise failure
            pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
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
            except PoolTimeout:
                pool.close(timeout=0)
                raise diagnose(self.config) or ServiceUnavailable() from None
            self._pool = pool
            return pool

    def connection(self, *, catalog: bool = False) -> Any:
        """Context manager yielding a pooled connection; 503 with the reason when none comes.

        Inside a request on a service with database roles, the connection runs as the
        caller's database identity (services/db_identity.py); `catalog=True` (schema
        introspection, shared by every caller) runs as the service's own user.
        """
        pool = self._pool or self._open()
        identity = None
        if self.config.use_db_roles and not catalog:
            identity = db_identity.current()
        return _GuardedConnection(pool, self.config, identity)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=1.0)
                self._pool = None

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats()) if self._pool is not None else {}


class _GuardedConnection:
    """`with pool.connection()` that turns PoolTimeout into a classified 503."""

    __slots__ = ("_cm", "_config", "_identity", "_pool", "_tx")

    def __init__(
        self,
        pool: ConnectionPool[psycopg.Connection[Any]],
        config: ServiceConfig,
        identity: db_identity.DbIdentity | None = None,
    ):
        self._pool = pool
        self._config = config
        self._identity = identity
        self._cm: Any = None
        self._tx: Any = None

    def __enter__(self) -> psycopg.Connection[Any]:
        self._cm = self._pool.connection()
        try:
            conn: psycopg.Connection[Any] = self._cm.__enter__()
        except PoolTimeout:
            raise diagnose(self._config) or ServiceUnavailable() from None
        if self._identity is not None:
            # one transaction for everything the request does on this connection
            self._tx = conn.transaction()
            self._tx.__enter__()
            try:
                db_identity.apply(conn, self._identity)
            except BaseException as exc:
                self._tx.__exit__(type(exc), exc, exc.__traceback__)
                self._cm.__exit__(type(exc), exc, exc.__traceback__)
                raise
        return conn

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._tx is not None:
                self._tx.__exit__(*exc)
        finally:
            self._cm.__exit__(*exc)
