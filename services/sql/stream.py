"""Compile stage, streamed reads: a bound read -> the NDJSON query or the CSV COPY. Pure: no I/O.

PostgreSQL builds every line: `row_to_json(r)::text` per row for NDJSON, `COPY (...) TO STDOUT
WITH (FORMAT csv, HEADER)` for CSV. Rows are the same SELECT as a page (compile.py); only the
limit differs: a stream may read every matching row.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.plan.types import BoundNode, BoundRead
from services.sql.compile import Statement, combine, row_select
from services.sql.fragments import order_by

# COPY is one statement for the whole transfer, so the service's statement_timeout would cut a
# CSV stream after that long however fast PostgreSQL is, just because the client reads slowly.
# NDJSON keeps the timeout: it bounds each FETCH of a batch.
NO_STATEMENT_TIMEOUT = sql.SQL("SET LOCAL statement_timeout = 0")


def _rows(
    read: BoundRead, limit: int | None, row_filter: BoundNode | None, params: list[Any]
) -> sql.Composable:
    """The page's SELECT with ORDER BY, `LIMIT %s` (NULL: no limit) and `OFFSET %s`."""
    rows = row_select(read, params, combine(read.where, row_filter))
    params.extend((limit, read.offset))
    return sql.SQL("{rows}{order} LIMIT %s OFFSET %s").format(rows=rows, order=order_by(read.order))


def compile_ndjson(
    read: BoundRead, limit: int | None, row_filter: BoundNode | None = None
) -> Statement:
    """One JSON object text per row, in the read's order (for a server-side cursor)."""
    params: list[Any] = []
    query = sql.SQL("SELECT row_to_json(_p)::text FROM ({}) AS _p").format(
        _rows(read, limit, row_filter, params)
    )
    return Statement(query, params)


def compile_csv(
    read: BoundRead, limit: int | None, row_filter: BoundNode | None = None
) -> Statement:
    """`COPY (rows) TO STDOUT` as CSV with a header line.

    COPY takes no server-side parameters: psycopg merges `params` into the statement
    client-side (quoted as literals by the driver, never formatted by us).
    """
    params: list[Any] = []
    query = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER)").format(
        _rows(read, limit, row_filter, params)
    )
    return Statement(query, params)
