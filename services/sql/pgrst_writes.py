"""Compile stage for the PostgREST dialect's writes: INSERT (with ON CONFLICT), UPDATE and DELETE
of many rows in one statement each, the body's rows handed over as one JSON parameter that
PostgreSQL reads into the table's own row type (`json_populate_record[set]`), so every value is
parsed by its column's input function, as PostgREST does. Each RETURNING row is the output's JSON
text, then (with a role's row filter as `check`) whether the row as written satisfies it. Pure.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
from services.plan.types import BoundNode, BoundOutput
from services.sql.compile import Statement
from services.sql.fragments import ident, output_list, qualified, where_expr

_T = sql.Identifier("_t")
_J = sql.Identifier("_j")


def _returning(
    outputs: tuple[BoundOutput, ...], check: BoundNode | None, params: list[Any]
) -> sql.Composable:
    shown = (
        sql.SQL("(SELECT row_to_json(_x) FROM (SELECT {}) AS _x)::text").format(
            sql.SQL(", ").join(output_list(outputs))
        )
        if outputs
        else sql.SQL("'{}'::text")
    )
    if check is None:
        return shown
    return sql.SQL("{}, coalesce({}, false)").format(shown, where_expr(check, params))


def compile_insert_rows(
    table: Table,
    columns: tuple[Column, ...],
    rows_json: str,
    outputs: tuple[BoundOutput, ...],
    *,
    conflict: tuple[Column, ...] | None = None,
    merge: bool = False,
    merge_where: BoundNode | None = None,
    check: BoundNode | None = None,
) -> Statement:
    """INSERT the rows of a JSON array (only `columns`; others take their defaults), with
    `ON CONFLICT (conflict) DO UPDATE` (merge; only rows `merge_where` admits) or `DO NOTHING`;
    every row as written must satisfy `check`."""
    params: list[Any] = [rows_json]
    names = sql.SQL(", ").join(ident(c.name) for c in columns)
    query: sql.Composable = sql.SQL(
        "INSERT INTO {tbl} AS {t} ({names})"
        " SELECT {names} FROM json_populate_recordset(NULL::{tbl}, %s::json)"
    ).format(tbl=qualified(table), t=_T, names=names)
    if conflict is not None:
        updates = [c for c in columns if c not in conflict]
        action: sql.Composable = sql.SQL("DO NOTHING")
        if merge and updates:
            action = sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{0} = EXCLUDED.{0}").format(ident(c.name)) for c in updates
                )
            )
            if merge_where is not None:  # rows the caller may not update are left alone
                action = sql.SQL("{} WHERE {}").format(action, where_expr(merge_where, params))
        query = sql.SQL("{} ON CONFLICT ({}) {}").format(
            query, sql.SQL(", ").join(ident(c.name) for c in conflict), action
        )
    query = sql.SQL("{} RETURNING {}").format(query, _returning(outputs, check, params))
    return Statement(query, params)


def compile_insert_defaults(
    table: Table, outputs: tuple[BoundOutput, ...], check: BoundNode | None = None
) -> Statement:
    """One row of defaults only (the body `{}`)."""
    params: list[Any] = []
    query = sql.SQL("INSERT INTO {} AS {} DEFAULT VALUES RETURNING {}").format(
        qualified(table), _T, _returning(outputs, check, params)
    )
    return Statement(query, params)


def compile_update_rows(
    table: Table,
    columns: tuple[Column, ...],
    row_json: str,
    outputs: tuple[BoundOutput, ...],
    where: BoundNode | None,
    check: BoundNode | None = None,
) -> Statement:
    """UPDATE every row `where` matches (all rows without it) to the JSON object's values."""
    params: list[Any] = [row_json]
    sets = sql.SQL(", ").join(sql.SQL("{0} = {1}.{0}").format(ident(c.name), _J) for c in columns)
    cond = where_expr(where, params) if where is not None else sql.SQL("TRUE")
    query = sql.SQL(
        "UPDATE {tbl} AS {t} SET {sets} FROM json_populate_record(NULL::{tbl}, %s::json) AS {j}"
        " WHERE {cond} RETURNING {ret}"
    ).format(
        tbl=qualified(table),
        t=_T,
        sets=sets,
        j=_J,
        cond=cond,
        ret=_returning(outputs, check, params),
    )
    return Statement(query, params)


def compile_delete_rows(
    table: Table, outputs: tuple[BoundOutput, ...], where: BoundNode | None
) -> Statement:
    """DELETE every row `where` matches (all rows without it)."""
    params: list[Any] = []
    cond = where_expr(where, params) if where is not None else sql.SQL("TRUE")
    query = sql.SQL("DELETE FROM {} AS {} WHERE {} RETURNING {}").format(
        qualified(table), _T, cond, _returning(outputs, None, params)
    )
    return Statement(query, params)
