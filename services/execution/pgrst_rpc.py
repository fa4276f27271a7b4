"""Execute stage of the PostgREST dialect's `/rpc/<fn>`: run the compiled call.

A GET runs in a READ ONLY transaction, as PostgREST runs it: a function that writes fails
there with 25006 (answered 405). A POST runs in autocommit, so a procedure may COMMIT inside.
Errors carry the database's own message (PostgREST's body), without `/api/v2`'s lead line;
a value that does not parse names its parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from core.errors import BadRequest, GatewayError
from services.db import executor
from services.db.pgerrors import classify
from services.execution import read_cache
from services.execution.routine_results import plain
from services.execution.routines import bad_value
from services.plan.routine_args import BoundCall
from services.registry import LiveService
from services.sql.compile import Statement


@dataclass(frozen=True, slots=True)
class RpcResult:
    rows: bytes | None  # a JSON array built by PostgreSQL (functions returning rows)
    value: bytes | None  # the JSON of a scalar function's value ("null" for NULL)
    count: int | None  # matching rows, when counted
    outputs: dict[str, Any] | None  # a procedure's OUT/INOUT values (None: it has none)
    void: bool  # nothing to answer (a void function, a procedure without OUT parameters)


@contextmanager
def _access(conn: psycopg.Connection[Any], read_only: bool) -> Iterator[None]:
    if not read_only:
        yield
        return
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        yield


def run_call(
    live: LiveService, call: BoundCall, stmt: Statement, *, rows: bool, read_only: bool
) -> RpcResult:
    """Run one compiled call; `rows`: the statement is compile_rows()'s (array, count)."""
    routine = call.routine
    with executor.connection(live, write=not read_only) as conn:
        try:
            with _access(conn, read_only):
                cursor = executor.run(conn, stmt.query, stmt.params)
                description = cursor.description
                row = cursor.fetchone() if description is not None else None
                columns = [c.name for c in description] if description else None
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                raise
            raise call_error(conn, exc, call) from None
    if routine.kind == "procedure":
        if not read_only and live.config.cache_enabled:  # a procedure may write anything
            read_cache.invalidate_service(live.config.id)
        if not columns:
            return RpcResult(None, None, None, None, void=True)
        values = {n: plain(v) for n, v in zip(columns, row or (), strict=False)}
        return RpcResult(None, None, None, values, void=False)
    if rows:
        text, count = (row or ("[]", None))[:2]
        return RpcResult((text or "[]").encode(), None, count, None, void=False)
    if routine.shape == "void":
        return RpcResult(None, None, None, None, void=True)
    text = row[0] if row else None
    return RpcResult(None, b"null" if text is None else str(text).encode(), None, None, False)


def call_error(conn: psycopg.Connection[Any], exc: psycopg.Error, call: BoundCall) -> GatewayError:
    """The database's error as the dialect answers it: RAISE keeps its message, detail and
    hint (400 P0001); a value of the wrong form names its parameter (400)."""
    state = exc.sqlstate or ""
    diag = exc.diag
    if state == "P0001":
        return BadRequest(
            diag.message_primary or "The function raised an exception.",
            code=state,
            context={"details": diag.message_detail, "hint": diag.message_hint},
        )
    bad = bad_value(conn, exc, call)
    if bad is not None:
        name, reason = bad
        return BadRequest(
            f"Invalid value for parameter '{name}': {reason}",
            code=state,
            context={"details": diag.message_primary, "param": name},
        )
    error = classify(exc)
    context = dict(error.context) if isinstance(error.context, dict) else {}
    context.setdefault("details", diag.message_detail)
    context.setdefault("hint", diag.message_hint)
    return type(error)(error.message, code=error.code, context=context, headers=error.headers)
