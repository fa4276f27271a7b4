"""` GROUP BY ... HAVING ...` of a grouped read: the terms are group columns or our fixed
aggregate SQL, every value a placeholder (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column
from services.plan.types import BoundAggregate, HavingCondition, HavingNode
from services.sql.fragments import aggregate_expr, column_ref, group_by

_ALIAS = sql.Identifier("_t")
_COMPARISON = {op: sql.SQL(op) for op in ("=", "!=", ">", ">=", "<", "<=")}
_MANY = frozenset({"in", "not in", "between", "not between"})
_NONE = frozenset({"is null", "is not null"})


def having_params(node: HavingNode | None) -> list[Any]:
    """The values of a having clause in the order its placeholders appear."""
    if node is None:
        return []
    if isinstance(node, HavingCondition):
        if node.op in _NONE:
            return []
        return list(node.value) if node.op in _MANY else [node.value]
    return [v for item in node.items for v in having_params(item)]


def having_shape(node: HavingNode | None) -> Any:
    """What decides the clause's text (terms, operators, list lengths), not its values."""
    if node is None:
        return None
    if isinstance(node, HavingCondition):
        term = node.term
        name = (
            term.name
            if isinstance(term, Column)
            else ("agg", term.function, term.column.name if term.column else None)
        )
        return (name, node.op, len(node.value) if node.op in _MANY else 0)
    return (node.op, *(having_shape(i) for i in node.items))


def _term(term: Column | BoundAggregate, alias: sql.Composable) -> sql.Composable:
    return column_ref(term, alias) if isinstance(term, Column) else aggregate_expr(term, alias)


def _expr(node: HavingNode, params: list[Any], alias: sql.Composable) -> sql.Composable:
    if not isinstance(node, HavingCondition):
        if node.op == "not":
            return sql.SQL("NOT ({})").format(_expr(node.items[0], params, alias))
        joiner = sql.SQL(" AND " if node.op == "and" else " OR ")
        return sql.SQL("({})").format(joiner.join(_expr(i, params, alias) for i in node.items))
    ref, op = _term(node.term, alias), node.op
    params.extend(having_params(node))
    if op in _COMPARISON:
        return sql.SQL("{} {} %s").format(ref, _COMPARISON[op])
    if op in _NONE:
        return sql.SQL("{} IS NULL" if op == "is null" else "{} IS NOT NULL").format(ref)
    if op in ("in", "not in"):
        marks = sql.SQL(", ").join(sql.Placeholder() * len(node.value))
        return sql.SQL("{} NOT IN ({})" if op == "not in" else "{} IN ({})").format(ref, marks)
    keyword = "NOT BETWEEN" if op == "not between" else "BETWEEN"
    return sql.SQL("{} " + keyword + " %s AND %s").format(ref)


def grouping(
    group: tuple[Column, ...],
    having: HavingNode | None,
    params: list[Any],
    alias: sql.Composable = _ALIAS,
) -> sql.Composable:
    """` GROUP BY a, b[ HAVING ...]`, or nothing for an ungrouped read."""
    if having is None:
        return group_by(group, alias)
    return sql.SQL("{} HAVING {}").format(group_by(group, alias), _expr(having, params, alias))
