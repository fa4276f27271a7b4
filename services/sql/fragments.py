"""Tiny functions returning psycopg.sql pieces: names, output expressions, WHERE, ORDER BY.

Identifiers only ever come from resolved schema-cache objects and are quoted by sql.Identifier;
every value is appended to `params` and stands as a placeholder. The SQL keywords here are ours.
"""

from __future__ import annotations

import functools
from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
from services.plan.types import (
    BoundAggregate,
    BoundCondition,
    BoundNode,
    BoundOrder,
    BoundOutput,
)

_COMPARISON = {op: sql.SQL(op) for op in ("=", "!=", ">", ">=", "<", "<=")}
_TEXTUAL = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_ALIAS = sql.Identifier("_t")
_PATTERN_NEGATED = frozenset({"not like", "not contains", "not starts with", "not ends with"})


@functools.lru_cache(maxsize=8192)  # names repeat; composing one costs more than the lookup
def ident(*names: str) -> sql.Identifier:
    """A quoted name in a statement that runs with bound parameters (every statement built
    here does, even with none): psycopg reads `%` as a placeholder even inside quotes, so it is
    doubled, and the server sees the name as it is."""
    return sql.Identifier(*(n.replace("%", "%%") for n in names))


def qualified(table: Table) -> sql.Composable:
    return ident(table.schema, table.db_name)


def column_ref(column: Column, alias: sql.Composable = _ALIAS) -> sql.Composable:
    return sql.Composed([alias, sql.SQL("."), ident(column.name)])


def output_expr(column: Column, alias: sql.Composable = _ALIAS) -> sql.Composable:
    """How a column is read for JSON output: bytea as base64, money as an exact number."""
    ref = column_ref(column, alias)
    if column.base_type == "bytea" and not column.is_array:
        return sql.SQL("translate(encode({}, 'base64'), chr(10), '')").format(ref)
    if column.base_type == "money" and not column.is_array:
        return sql.SQL("{}::numeric").format(ref)
    return ref


def select_list(
    columns: tuple[Column, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    return [sql.SQL("{} AS {}").format(output_expr(c, alias), ident(c.name)) for c in columns]


def output_list(
    outputs: tuple[BoundOutput, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    """Named outputs (a PostgREST select): `_t.col::type AS name`; the type name is quoted
    (the dialect's parser admits only plain names, with `[]` for arrays)."""
    items: list[sql.Composable] = []
    for out in outputs:
        expr = output_expr(out.column, alias)
        if out.cast:
            base, brackets = out.cast.removesuffix("[]"), out.cast.endswith("[]")
            kind = sql.SQL("{}[]").format(ident(base)) if brackets else ident(base)
            expr = sql.SQL("{}::{}").format(column_ref(out.column, alias), kind)
        items.append(sql.SQL("{} AS {}").format(expr, ident(out.name)))
    return items


def outputs_shape(outputs: tuple[BoundOutput, ...]) -> tuple[Any, ...]:
    return tuple((o.column.name, o.name, o.cast) for o in outputs)


# the only aggregate SQL we ever write: the request picks a key, never the text
_AGGREGATE_SQL = {
    "sum": sql.SQL("sum"),
    "count": sql.SQL("count"),
    "avg": sql.SQL("avg"),
    "min": sql.SQL("min"),
    "max": sql.SQL("max"),
}


def aggregate_expr(agg: BoundAggregate, alias: sql.Composable = _ALIAS) -> sql.Composable:
    """`sum(_t.total)`, `count(*)`; money is summed as numeric so JSON gets a number."""
    function = _AGGREGATE_SQL[agg.function]
    if agg.column is None:
        return sql.SQL("{}(*)").format(function)
    ref = column_ref(agg.column, alias)
    if agg.column.base_type == "money" and not agg.column.is_array:
        ref = sql.SQL("{}::numeric").format(ref)
    return sql.SQL("{}({})").format(function, ref)


def aggregate_list(
    aggregates: tuple[BoundAggregate, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    return [sql.SQL("{} AS {}").format(aggregate_expr(a, alias), ident(a.name)) for a in aggregates]


def group_by(group: tuple[Column, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    if not group:
        return sql.SQL("")
    return sql.SQL(" GROUP BY {}").format(sql.SQL(", ").join(column_ref(c, alias) for c in group))


def record_json(columns: tuple[Column, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    """A scalar expression: the row's chosen columns as JSON text (usable in RETURNING)."""
    return sql.SQL("(SELECT row_to_json(_x) FROM (SELECT {}) AS _x)::text").format(
        sql.SQL(", ").join(select_list(columns, alias))
    )


def checked_returning(
    columns: tuple[Column, ...], check: BoundNode | None, params: list[Any]
) -> sql.Composable:
    """A write's RETURNING list: the output JSON, then (with a role's row filter as `check`)
    whether the row as written satisfies the filter (a write may not leave it, spec §8.4)."""
    if check is None:
        return record_json(columns)
    return sql.SQL("{}, coalesce({}, false)").format(
        record_json(columns), where_expr(check, params)
    )


def _text_ref(column: Column, alias: sql.Composable) -> sql.Composable:
    ref = column_ref(column, alias)
    if column.base_type in _TEXTUAL and not column.is_array:
        return ref
    return sql.SQL("{}::text").format(ref)


_NO_VALUE_OPS = frozenset(
    {"is null", "is not null", "is true", "is not true", "is false", "is not false"}
)
_TRUTH = {op: sql.SQL(op.upper()) for op in ("is true", "is not true", "is false", "is not false")}
_MANY_VALUE_OPS = frozenset({"in", "not in", "all", "between", "not between"})


def condition_params(cond: BoundCondition) -> list[Any]:
    """The bound values one condition contributes, in placeholder order."""
    if cond.op in _NO_VALUE_OPS:
        return []
    if cond.op in _MANY_VALUE_OPS:
        return list(cond.value)
    return [cond.value]


def where_params(node: BoundNode | None) -> list[Any]:
    """Every value of a filter in the order where_expr() places its placeholders."""
    if node is None:
        return []
    if isinstance(node, BoundCondition):
        return condition_params(node)
    return [v for item in node.items for v in where_params(item)]


def where_shape(node: BoundNode | None) -> tuple[Any, ...] | None:
    """What decides a filter's SQL text (columns, operators, list lengths), not its values."""
    if node is None:
        return None
    if isinstance(node, BoundCondition):
        count = len(node.value) if node.op in _MANY_VALUE_OPS else 0
        return (node.column.name, node.column.base_type, node.op, count)
    return (node.op, *(where_shape(i) for i in node.items))


def _condition(cond: BoundCondition, params: list[Any], alias: sql.Composable) -> sql.Composable:
    op = cond.op
    ref = column_ref(cond.column, alias)
    params.extend(condition_params(cond))
    if op in _COMPARISON:
        return sql.SQL("{} {} %s").format(ref, _COMPARISON[op])
    if op == "is null":
        return sql.SQL("{} IS NULL").format(ref)
    if op == "is not null":
        return sql.SQL("{} IS NOT NULL").format(ref)
    if op in _TRUTH:
        return sql.SQL("{} {}").format(ref, _TRUTH[op])
    if op in ("ilike", "not ilike"):
        keyword = sql.SQL("NOT ILIKE") if op == "not ilike" else sql.SQL("ILIKE")
        return sql.SQL("{} {} %s").format(_text_ref(cond.column, alias), keyword)
    if op in ("in", "not in"):
        placeholders = sql.SQL(", ").join(sql.Placeholder() * len(cond.value))
        keyword = sql.SQL("NOT IN") if op == "not in" else sql.SQL("IN")
        return sql.SQL("{} {} ({})").format(ref, keyword, placeholders)
    if op == "all":
        parts = [sql.SQL("{} = %s").format(ref) for _ in cond.value]
        return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))
    if op in ("between", "not between"):
        keyword = sql.SQL("NOT BETWEEN") if op == "not between" else sql.SQL("BETWEEN")
        return sql.SQL("{} {} %s AND %s").format(ref, keyword)
    # like and the pattern word forms (values already wrapped and escaped by bind)
    keyword = sql.SQL("NOT LIKE") if op in _PATTERN_NEGATED else sql.SQL("LIKE")
    return sql.SQL("{} {} %s").format(_text_ref(cond.column, alias), keyword)


def where_expr(
    node: BoundNode, params: list[Any], alias: sql.Composable = _ALIAS
) -> sql.Composable:
    """The boolean expression for a bound filter; values go to `params` in order."""
    if isinstance(node, BoundCondition):
        return _condition(node, params, alias)
    if node.op == "not":
        return sql.SQL("NOT ({})").format(where_expr(node.items[0], params, alias))
    joiner = sql.SQL(" AND ") if node.op == "and" else sql.SQL(" OR ")
    return sql.SQL("({})").format(joiner.join(where_expr(i, params, alias) for i in node.items))


def where_clause(
    node: BoundNode | None, params: list[Any], alias: sql.Composable = _ALIAS
) -> sql.Composable:
    if node is None:
        return sql.SQL("")
    return sql.SQL(" WHERE {}").format(where_expr(node, params, alias))


def key_match(
    keys: tuple[Column, ...],
    values: tuple[Any, ...],
    params: list[Any],
    alias: sql.Composable = _ALIAS,
) -> sql.Composable:
    """`k1 = %s AND k2 = %s` for one identifier."""
    params.extend(values)
    return sql.SQL(" AND ").join(sql.SQL("{} = %s").format(column_ref(k, alias)) for k in keys)


def order_by(order: tuple[BoundOrder, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    if not order:
        return sql.SQL("")
    items = []
    for item in order:
        term = (
            aggregate_expr(item.column, alias)
            if isinstance(item.column, BoundAggregate)
            else column_ref(item.column, alias)
        )
        part = sql.SQL("{} {}").format(term, sql.SQL("DESC" if item.descending else "ASC"))
        if item.nulls:
            part = sql.SQL("{} {}").format(
                part, sql.SQL("NULLS FIRST" if item.nulls == "first" else "NULLS LAST")
            )
        items.append(part)
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(items))
