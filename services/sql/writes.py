"""Compile stage for writes: one record's INSERT, UPDATE, upsert or DELETE ... RETURNING, with the
caller's row filter as a WHERE (what may be touched) and as a check on what is written. Pure.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
from services.plan.types import BoundNode
from services.sql.cache import statements
from services.sql.compile import Statement, names_of
from services.sql.fragments import (
    checked_returning,
    ident,
    key_match,
    qualified,
    record_json,
    where_expr,
    where_params,
    where_shape,
)

_T = sql.Identifier("_t")


def compile_insert(
    table: Table,
    values: dict[str, Any],
    returning: tuple[Column, ...],
    check: BoundNode | None = None,
) -> Statement:
    """INSERT one row, RETURNING its JSON (and, with `check`, whether it passes the filter)."""
    names = tuple(values)
    params = [*(values[n] for n in names), *where_params(check)]
    shape = ("insert", id(table), names, names_of(returning), where_shape(check))
    text = statements.text(
        shape, lambda p: _compose_insert(table, values, returning, check, p), params, table
    )
    return Statement(text, params)


def _compose_insert(
    table: Table,
    values: dict[str, Any],
    returning: tuple[Column, ...],
    check: BoundNode | None,
    params: list[Any],
) -> sql.Composable:
    names = list(values)
    params.extend(values[n] for n in names)
    return sql.SQL("INSERT INTO {tbl} AS {t} ({cols}) VALUES ({vals}) RETURNING {ret}").format(
        tbl=qualified(table),
        t=_T,
        cols=sql.SQL(", ").join(ident(n) for n in names),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(names)),
        ret=checked_returning(returning, check, params),
    )


def compile_upsert(
    table: Table,
    keys: tuple[Column, ...],
    key: tuple[Any, ...],
    values: dict[str, Any],
    returning: tuple[Column, ...],
    *,
    where: BoundNode | None = None,
    check: BoundNode | None = None,
) -> Statement:
    """INSERT ... ON CONFLICT (keys) DO UPDATE: the allow_upsert form of an update by key.

    With a role's row filter, `where` limits the update to rows the role can see (an existing
    row outside it is left alone and reported not found) and `check` tests the written row.
    """
    row = {k.name: v for k, v in zip(keys, key, strict=True)} | values
    names = list(row)
    params = [row[n] for n in names]
    updates = [n for n in values if n not in {k.name for k in keys}]
    action: sql.Composable = sql.SQL("DO NOTHING")
    if updates:
        action = sql.SQL("DO UPDATE SET {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(ident(n)) for n in updates)
        )
        if where is not None:
            action = sql.SQL("{} WHERE {}").format(action, where_expr(where, params))
    query = sql.SQL(
        "INSERT INTO {tbl} AS {t} ({cols}) VALUES ({vals})"
        " ON CONFLICT ({keys}) {action} RETURNING {ret}"
    ).format(
        tbl=qualified(table),
        t=_T,
        cols=sql.SQL(", ").join(ident(n) for n in names),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(names)),
        keys=sql.SQL(", ").join(ident(k.name) for k in keys),
        action=action,
        ret=checked_returning(returning, check, params),
    )
    return Statement(query, params)


def _row_match(
    keys: tuple[Column, ...],
    key: tuple[Any, ...] | None,
    where: BoundNode | None,
    params: list[Any],
) -> sql.Composable:
    """The WHERE of an update or delete: the key, the filter, both (ANDed) or every row."""
    conditions = []
    if key is not None:
        conditions.append(key_match(keys, key, params))
    if where is not None:
        conditions.append(where_expr(where, params))
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")


def compile_update(
    table: Table,
    values: dict[str, Any],
    returning: tuple[Column, ...],
    *,
    keys: tuple[Column, ...] = (),
    key: tuple[Any, ...] | None = None,
    where: BoundNode | None = None,
    check: BoundNode | None = None,
) -> Statement:
    """UPDATE by key (one row, RETURNING its JSON) or by filter (a JSON array of all rows).

    With `check` (a role's row filter) each form also answers whether every updated row still
    satisfies it, so the caller can roll back a write that would move a row out of sight.
    """
    params: list[Any] = list(values.values())
    sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(ident(n)) for n in values)
    cond = _row_match(keys, key, where, params)
    query = sql.SQL("UPDATE {tbl} AS {t} SET {sets} WHERE {cond} RETURNING {ret}").format(
        tbl=qualified(table),
        t=_T,
        sets=sets,
        cond=cond,
        ret=checked_returning(returning, check, params),
    )
    if key is None:
        query = _aggregate(query, checked=check is not None)
    return Statement(query, params)


def compile_delete(
    table: Table,
    returning: tuple[Column, ...],
    *,
    keys: tuple[Column, ...] = (),
    key: tuple[Any, ...] | None = None,
    where: BoundNode | None = None,
) -> Statement:
    """DELETE by key (RETURNING the row's JSON) or by filter/force (a JSON array)."""
    params: list[Any] = []
    cond = _row_match(keys, key, where, params)
    query = sql.SQL("DELETE FROM {tbl} AS {t} WHERE {cond} RETURNING {ret}").format(
        tbl=qualified(table), t=_T, cond=cond, ret=record_json(returning)
    )
    if key is None:
        query = _aggregate(query)
    return Statement(query, params)


def _aggregate(write: sql.Composable, *, checked: bool = False) -> sql.Composed:
    """Wrap a many-row write so it answers one JSON array text (and, when its RETURNING has a
    row-filter check, whether every row passed it)."""
    if checked:
        return sql.SQL(
            "WITH _w(_j, _ok) AS ({}) SELECT coalesce('[' || string_agg(_j, ',') || ']', '[]'),"
            " coalesce(bool_and(_ok), true) FROM _w"
        ).format(write)
    return sql.SQL(
        "WITH _w AS ({} AS _j) SELECT coalesce('[' || string_agg(_j, ',') || ']', '[]') FROM _w"
    ).format(write)


def compile_key_select(
    table: Table,
    keys: tuple[Column, ...],
    key: tuple[Any, ...],
    columns: tuple[Column, ...],
    where: BoundNode | None = None,
) -> Statement:
    """One row by key as JSON text (a row a nested write names but does not change)."""
    params: list[Any] = []
    cond = _row_match(keys, key, where, params)
    query = sql.SQL("SELECT {ret} FROM {tbl} AS {t} WHERE {cond}").format(
        ret=record_json(columns), tbl=qualified(table), t=_T, cond=cond
    )
    return Statement(query, params)


def compile_link_exists(
    junction: Table, values: dict[str, Any], where: BoundNode | None = None
) -> Statement:
    """Whether a junction row already links these values (within the caller's row filter)."""
    params: list[Any] = []
    columns = tuple(junction.column(n) for n in values)
    cond = _row_match(columns, tuple(values.values()), where, params)
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {tbl} AS {t} WHERE {cond})").format(
        tbl=qualified(junction), t=_T, cond=cond
    )
    return Statement(query, params)
