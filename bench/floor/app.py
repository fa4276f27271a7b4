"""The floor: a bare WSGI app that runs the gateway's SQL for each benchmark workload.

No framework, no auth, no metadata, no parsing beyond what a route needs: one psycopg_pool
ConnectionPool per process, PostgreSQL builds every JSON body (row_to_json, string_agg), and
the text comes back as bytes (a loader), so Python only moves bytes. What is left per request
(the WSGI server, psycopg, a pool checkout) is the least any Python server pays for the same
answers: bench/run.py measures the gateway against it.

    GET  /orders/{id}                   W1, the row (404 when absent)
    GET  /orders?customer_id=C&limit=N  W2, {"resource": [...]}, newest first
    GET  /orders?limit=N                W3, {"resource": [...]} by id
    POST /orders  {row}                 W4, {"resource": [{"id": N}]}
    POST /func/order_status {"p_id": N} W5, the function's value as JSON

The statements are the ones the gateway sends (its generated SQL, as PostgreSQL's log shows
it), less its ARRAY[] wrapper (W1) and its count/more columns (W2, W3), plus the
{"resource": ...} wrapper, which the gateway adds in Python. Nothing is validated: a missing
row answers 404, a malformed request 400.

Run: `python -m granian --interface wsgi ... bench.floor.app:application`; connection from the
BENCH_PG_* variables (bench/fixture.py), application_name `bench-floor`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from psycopg import Connection
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool

from bench import fixture

_COLUMNS = (
    '"_t"."id" AS "id", "_t"."customer_id" AS "customer_id", "_t"."status" AS "status", '
    '"_t"."total" AS "total", "_t"."created_at" AS "created_at", "_t"."note" AS "note"'
)
_FROM = f'FROM "public"."{fixture.TABLE}" AS "_t"'


def _page(where: str, order: str) -> str:
    """A list as one text value: {"resource": [rows]}."""
    rows = f"SELECT {_COLUMNS} {_FROM} {where} ORDER BY {order} LIMIT %s OFFSET 0"
    items = "coalesce('[' || string_agg(row_to_json(_p)::text, ',') || ']', '[]')"
    return f"""SELECT '{{"resource":' || {items} || '}}' FROM ({rows}) AS _p"""


ONE = (
    f"SELECT row_to_json(_p)::text FROM (SELECT {_COLUMNS} {_FROM} "
    'WHERE "_t"."id" = %s LIMIT 1) AS _p'
)
CUSTOMER_PAGE = _page('WHERE "_t"."customer_id" = %s', '"_t"."created_at" DESC')
ID_PAGE = _page("", '"_t"."id" ASC')
INSERT = (
    f'INSERT INTO "public"."{fixture.TABLE}" AS "_t" '
    '("customer_id", "status", "total", "created_at", "note") VALUES (%s, %s, %s, %s, %s) '
    """RETURNING '{"resource":[' || """
    '(SELECT row_to_json(_x) FROM (SELECT "_t"."id" AS "id") AS _x)::text || \']}\''
)
CALL = (
    f'SELECT to_json("public"."{fixture.FUNCTION}"'
    '("p_id" => CAST(%s AS "pg_catalog"."int8")))::text'
)
_FIELDS = ("customer_id", "status", "total", "created_at", "note")


class _TextAsBytes(Loader):
    """text columns as bytes: the JSON goes out as PostgreSQL wrote it, never decoded."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def _configure(conn: Connection[Any]) -> None:
    conn.adapters.register_loader("text", _TextAsBytes)


_pool: ConnectionPool[Connection[Any]] | None = None
_pool_lock = threading.Lock()


def pool() -> ConnectionPool[Connection[Any]]:
    """This process's pool, opened on first use (after the server forked its workers)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                params = fixture.server_params()
                conninfo = " ".join(f"{k}={v}" for k, v in params.items() if v != "")
                _pool = ConnectionPool(
                    f"{conninfo} dbname={fixture.DATABASE} application_name=bench-floor",
                    min_size=1,
                    max_size=4,
                    kwargs={"autocommit": True},
                    configure=_configure,
                    open=True,
                )
    return _pool


def _one(query: str, params: list[Any]) -> bytes | None:
    with pool().connection() as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def _route(method: str, path: str, environ: dict[str, Any]) -> tuple[str, bytes | None]:
    """(status, body) for one request; body None answers 404."""
    if path.startswith("/orders/") and method == "GET":
        return "200 OK", _one(ONE, [int(path[8:])])
    if path == "/orders" and method == "GET":
        query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if p)
        limit = int(query.get("limit", "1000"))
        if "customer_id" in query:
            return "200 OK", _one(CUSTOMER_PAGE, [int(query["customer_id"]), limit])
        return "200 OK", _one(ID_PAGE, [limit])
    if path == "/orders" and method == "POST":
        row = json.loads(_body(environ))
        return "201 Created", _one(INSERT, [row[f] for f in _FIELDS])
    if path == "/func/order_status" and method == "POST":
        return "200 OK", _one(CALL, [json.loads(_body(environ))["p_id"]])
    return "404 Not Found", None


def _body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], Any]
) -> Iterable[bytes]:
    try:
        status, body = _route(environ["REQUEST_METHOD"], environ["PATH_INFO"], environ)
    except (ValueError, KeyError, TypeError) as exc:
        status, body = "400 Bad Request", json.dumps({"error": str(exc)}).encode()
    if body is None:
        status, body = "404 Not Found", b'{"error":"not found"}'
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
