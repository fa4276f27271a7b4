"""Compile stage for writes: one record's INSERT, UPDATE, upsert or DELETE ... RETURNING, with the
caller's row filter as a WHERE (what may be touched) and as a check on what is written. Pure.

A write with WriteOptions (the PostgREST dialect's) compiles to one statement per shape over
many rows (`compile_rows_*`): the rows travel as one JSON parameter that PostgreSQL reads into
the table's own row type (`json_populate_record[set]`), so each value is parsed by its column's
input function; each RETURNING row is the outputs' JSON text, then (with a check) whether the
row as written satisfies the role's row filter. Their texts are cached by shape too.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
from services.plan.types import BoundNode, BoundOutput
from services.sql.cache import statements
from services.sql.compile import Statement, names_of
from services.sql.fragments import (
    checked_returning,
    ident,
    key_match,
    output_list,
    outputs_shape,
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


# --- many rows of a write with WriteOptions ---------------------------------------------------

_J = sql.Identifier("_j")


def _outputs_returning(
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


def compile_rows_insert(
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
    params: list[Any] = [rows_json, *where_params(merge_where), *where_params(check)]
    shape = (
        "rows_insert",
        id(table),
        names_of(columns),
        None if conflict is None else names_of(conflict),
        merge,
        outputs_shape(outputs),
        where_shape(merge_where),
        where_shape(check),
    )

    def build(p: list[Any]) -> sql.Composable:
        return _compose_rows_insert(
            table, columns, rows_json, outputs, conflict, merge, merge_where, check, p
        )

    return Statement(statements.text(shape, build, params, table), params)


def _compose_rows_insert(
    table: Table,
    columns: tuple[Column, ...],
    rows_json: str,
    outputs: tuple[BoundOutput, ...],
    conflict: tuple[Column, ...] | None,
    merge: bool,
    merge_where: BoundNode | None,
    check: BoundNode | None,
    params: list[Any],
) -> sql.Composable:
    params.append(rows_json)
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
    return sql.SQL("{} RETURNING {}").format(query, _outputs_returning(outputs, check, params))


def compile_rows_defaults(
    table: Table, outputs: tuple[BoundOutput, ...], check: BoundNode | None = None
) -> Statement:
    """One row of defaults only (a record with no keys)."""
    params: list[Any] = where_params(check)
    shape = ("rows_defaults", id(table), outputs_shape(outputs), where_shape(check))

    def build(p: list[Any]) -> sql.Composable:
        return sql.SQL("INSERT INTO {} AS {} DEFAULT VALUES RETURNING {}").format(
            qualified(table), _T, _outputs_returning(outputs, check, p)
        )

    return Statement(statements.text(shape, build, params, table), params)


def compile_rows_update(
    table: Table,
    columns: tuple[Column, ...],
    row_json: str,
    outputs: tuple[BoundOutput, ...],
    where: BoundNode | None,
    check: BoundNode | None = None,
) -> Statement:
    """UPDATE every row `where` matches (all rows without it) to the JSON object's values."""
    params: list[Any] = [row_json, *where_params(where), *where_params(check)]
    shape = (
        "rows_update",
        id(table),
        names_of(columns),
        outputs_shape(outputs),
        where_shape(where),
        where_shape(check),
    )

    def build(p: list[Any]) -> sql.Composable:
        p.append(row_json)
        sets = sql.SQL(", ").join(
            sql.SQL("{0} = {1}.{0}").format(ident(c.name), _J) for c in columns
        )
        cond = where_expr(where, p) if where is not None else sql.SQL("TRUE")
        return sql.SQL(
            "UPDATE {tbl} AS {t} SET {sets} FROM json_populate_record(NULL::{tbl}, %s::json)"
            " AS {j} WHERE {cond} RETURNING {ret}"
        ).format(
            tbl=qualified(table),
            t=_T,
            sets=sets,
            j=_J,
            cond=cond,
            ret=_outputs_returning(outputs, check, p),
        )

    return Statement(statements.text(shape, build, params, table), params)


def compile_rows_delete(
    table: Table, outputs: tuple[BoundOutput, ...], where: BoundNode | None
) -> Statement:
    """DELETE every row `where` matches (all rows without it), RETURNING each one's outputs."""
    params: list[Any] = where_params(where)
    shape = ("rows_delete", id(table), outputs_shape(outputs), where_shape(where))

    def build(p: list[Any]) -> sql.Composable:
        cond = where_expr(where, p) if where is not None else sql.SQL("TRUE")
        return sql.SQL("DELETE FROM {} AS {} WHERE {} RETURNING {}").format(
            qualified(table), _T, cond, _outputs_returning(outputs, None, p)
        )

    return Statement(statements.text(shape, build, params, table), params)
