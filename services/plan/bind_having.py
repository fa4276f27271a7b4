"""Bind stage for `having`: its names against the table and the group (400 naming the bad one),
its values coerced for what they are compared with.

A term is a group column, an aggregate (`COUNT(*)`, `SUM(total)`), or an aggregate's output
name (`COUNT_ALL`, `SUM_total`); the aggregate need not be among `fields`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from core.errors import BadRequest
from services.catalog.schema_cache import Column, Table
from services.plan.filter_ast import (
    COMPARISON_OPS,
    LIST_OPS,
    NULL_OPS,
    RANGE_OPS,
    And,
    Condition,
    Node,
    Not,
    Or,
    Value,
)
from services.plan.parse_table import parse_aggregate
from services.plan.types import (
    AggregateFunction,
    AggregateRequest,
    BoundAggregate,
    HavingCondition,
    HavingLogic,
    HavingNode,
)
from services.plan.values import coerce_text

# bind_read's own aggregate binder (passed in: bind_read imports this module)
AggregateBinder = Callable[[Table, AggregateRequest], BoundAggregate]
_OPS = COMPARISON_OPS | NULL_OPS | RANGE_OPS | (LIST_OPS - {"all"})
_FUNCTIONS: tuple[AggregateFunction, ...] = ("sum", "count", "avg", "min", "max")


def _bad(message: str) -> BadRequest:
    return BadRequest(f"Invalid having clause: {message}", context={"param": "having"})


def _output_name(table: Table, name: str) -> AggregateRequest | None:
    """`COUNT_ALL`, `SUM_total`: the names grouped reads give their aggregates."""
    head, sep, rest = name.partition("_")
    function = head.lower()
    if not sep or function not in _FUNCTIONS:
        return None
    if function == "count" and rest.upper() == "ALL":
        return AggregateRequest("count", None)
    return AggregateRequest(function, rest) if table.find_column(rest) else None


def _term(
    table: Table,
    group: tuple[Column, ...],
    name: str,
    bind_aggregate: AggregateBinder,
) -> Column | BoundAggregate:
    column = table.find_column(name)
    if column is not None and column in group:
        return column
    request = parse_aggregate(name) or _output_name(table, name)
    if request is not None:
        try:
            aggregate = bind_aggregate(table, request)
        except BadRequest as exc:
            raise _bad(exc.message.replace("Invalid field requested: ", "")) from None
        return aggregate
    if column is not None:
        raise _bad(f"field '{name}' must be in the group by clause or used in an aggregate.")
    raise _bad(f"unknown field or aggregate '{name}'.")


def _value_column(term: Column | BoundAggregate) -> Column:
    """The column whose type a compared value is coerced for (an aggregate's result type)."""
    if isinstance(term, Column):
        return term
    if term.column is None or term.function == "count":
        base = "int8"
    elif term.function in ("sum", "avg"):
        base = "numeric"
    else:
        return term.column
    template = term.column or Column(
        name="count", position=0, db_type="bigint", base_type="int8", category="N",
        nullable=True, default=None, is_primary_key=False, auto_increment=False,
        is_generated=False, is_unique=False, length=None, precision=None, scale=None,
        simple_type="bigint",
    )  # fmt: skip
    return dataclasses.replace(
        template, base_type=base, db_type=base, category="N", simple_type=base
    )


def _operand(column: Column, value: Value) -> Any:
    try:
        return coerce_text(column, value.raw)
    except BadRequest as exc:
        raise _bad(exc.message) from None


def bind_having(
    node: Node,
    table: Table,
    group: tuple[Column, ...],
    bind_aggregate: AggregateBinder,
) -> HavingNode:
    """Resolve a parsed `having`; aggregates are checked by `bind_aggregate`, exactly as in
    `fields`."""
    if isinstance(node, Condition):
        if node.op not in _OPS:
            raise _bad(f"the operator '{node.op}' is not supported in having.")
        term = _term(table, group, node.field, bind_aggregate)
        column = _value_column(term)
        value: Any
        if node.value is None:
            value = None
        elif isinstance(node.value, tuple):
            value = tuple(_operand(column, v) for v in node.value)
        else:
            value = _operand(column, node.value)
        op = node.op
        if value is None and op in ("=", "!="):
            op = "is null" if op == "=" else "is not null"
        return HavingCondition(term, op, value)
    if isinstance(node, Not):
        return HavingLogic("not", (bind_having(node.item, table, group, bind_aggregate),))
    if not isinstance(node, And | Or):  # pragma: no cover - the AST has no other node
        raise TypeError(f"unknown filter node {node!r}")
    return HavingLogic(
        "and" if isinstance(node, And) else "or",
        tuple(bind_having(i, table, group, bind_aggregate) for i in node.items),
    )
