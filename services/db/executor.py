"""The one way to a service database (issue #10): every statement runs inside `connection()`.

It owns the checkout (breaker, short acquire timeout, no dead connection handed out, the
caller's database identity), turns every driver error into a classified GatewayError
(services/db/pgerrors.py) that remembers its SQLSTATE for the log line, and reacts
to a connection that died under a statement: the pool learns of it, a read is retried once
on a fresh connection (`read()`), a write never is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from core.errors import GatewayError, ServiceUnavailable
from services.config import ServiceConfig
from services.db.pgerrors import classify, classify_connect_error, is_connection_error
from services.db.pools import Connection, ServicePool, connect_once

T = TypeVar("T")


class ConnectionLost(ServiceUnavailable):
    """The connection died under a statement; `retryable` while the server still answers."""

    def __init__(self, message: str, *, retryable: bool, cause: str) -> None:
        super().__init__(
            message,
            context={"reason": "connection_lost"},
            headers={"Retry-After": "1"},
        )
        self.retryable = retryable
        self.cause = cause


_CURSOR = "_gateway_cursor"  # the attribute holding a connection's reusable cursor


def run(conn: Connection, query: Any, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
    """Execute on the connection's own reusable cursor (`conn.execute` makes a new cursor per
    statement, a fifth of psycopg's CPU for a key read). Read its results before the next
    statement on the same connection: they are replaced. The cursor lives on the connection
    (not in a weak map: it refers to its connection, so a map entry would never go)."""
    cursor: psycopg.Cursor[Any] | None = getattr(conn, _CURSOR, None)
    if cursor is None or cursor.closed:
        cursor = conn.cursor()
        setattr(conn, _CURSOR, cursor)
    return cursor.execute(query, params)


def _died(conn: Connection) -> bool:
    return conn.closed or conn.broken


def _lost(pool: ServicePool, exc: BaseException, *, write: bool) -> ConnectionLost:
    """Tell the pool; the error for the client (a write's outcome is unknown: say so)."""
    pool.connection_lost()
    cause = getattr(exc, "sqlstate", None) or type(exc).__name__
    name = pool.config.name
    if write:
        message = (
            f"The connection to service '{name}' was lost while the statement ran. It may "
            "have changed data, so it was not retried: check before sending it again."
        )
    else:
        message = f"The connection to service '{name}' was lost; retry the request."
    return ConnectionLost(message, retryable=not write and not pool.breaker.is_open, cause=cause)


@contextmanager
def connection(live: Any, *, write: bool = False, catalog: bool = False) -> Iterator[Connection]:
    """A pooled connection for the block; every psycopg error leaving it is a GatewayError."""
    pool: ServicePool = live.pool
    with pool.connection(catalog=catalog) as conn:
        try:
            yield conn
        except ConnectionLost:
            raise
        except psycopg.Error as exc:
            if _died(conn) or is_connection_error(exc):
                raise _lost(pool, exc, write=write) from exc
            raise classify(exc) from exc
        except GatewayError as exc:
            if _died(conn):  # a per-record handler classified the dying connection's error
                raise _lost(pool, exc, write=write) from exc
            raise


def read(live: Any, work: Callable[[Connection], T], *, catalog: bool = False) -> T:
    """Run a read; if its connection died before any result, once more on a fresh one."""
    try:
        with connection(live, catalog=catalog) as conn:
            return work(conn)
    except ConnectionLost as lost:
        if not lost.retryable:
            raise
    with connection(live, catalog=catalog) as conn:
        return work(conn)


def test_connection(config: ServiceConfig) -> dict[str, Any]:
    """Connect once with these settings: the server version, or a classified 503."""
    if config.problem:
        raise ServiceUnavailable(
            f"Service '{config.name}' cannot be used: {config.problem}.",
            context={"reason": "broken_config"},
        )
    try:
        with connect_once(config) as conn:
            version = conn.execute("SELECT version()").fetchone()
    except psycopg.Error as exc:
        kind, message = classify_connect_error(exc)
        raise ServiceUnavailable(
            f"Database connection failed. {message}", context={"reason": kind}
        ) from None
    return {
        "success": True,
        "message": "Connection succeeded.",
        "server_version": version[0] if version else None,
    }
