"""Compile a PostgREST call of a function that returns rows: the call in FROM, the shaping
(select, filters, order, limit, offset) applied by PostgreSQL, which also builds the JSON.

    WITH _all AS MATERIALIZED (SELECT _t.* FROM fn(args) AS _t WHERE <filters>)
    SELECT (<the page of _all as one JSON array>), (SELECT count(*) FROM _all) | NULL

The function runs once; names come from the routine catalog and the bound read only.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.plan.routine_args import BoundCall
from services.plan.types import BoundRead
from services.sql.compile import Statement
from services.sql.fragments import ident, order_by, output_list, select_list, where_clause
from services.sql.routines import invocation


def compile_rows(call: BoundCall, read: BoundRead) -> Statement:
    """One row: (the JSON array of the page, the count of matching rows or NULL)."""
    params: list[Any] = []
    fn = invocation(call, params)
    routine = call.routine
    source: sql.Composable = fn
    if routine.shape == "scalar":  # SETOF integer: one column named after the function
        source = sql.SQL("(SELECT _f._v AS {} FROM {} AS _f(_v))").format(
            ident(read.table.columns[0].name), fn
        )
    where = where_clause(read.where, params)
    items = output_list(read.outputs) if read.outputs else select_list(read.columns)
    params.extend((read.limit, read.offset))
    count = sql.SQL("(SELECT count(*) FROM _all)" if read.count else "NULL::bigint")
    query = sql.SQL(
        "WITH _all AS MATERIALIZED (SELECT _t.* FROM {source} AS _t{where}) "
        "SELECT (SELECT coalesce('[' || string_agg(row_to_json(_p)::text, ',') || ']', '[]')"
        " FROM (SELECT {items} FROM _all AS _t{order} LIMIT %s OFFSET %s) AS _p), {count}"
    ).format(
        source=source,
        where=where,
        items=sql.SQL(", ").join(items),
        order=order_by(read.order),
        count=count,
    )
    return Statement(query, params)
