"""Bind stage, names against one table: filters, selected columns, order, identifier values.

Every column name a client sent is resolved here (400 naming it) and every value coerced for
its column; what comes out holds only Column objects. Row filters of roles bind here too.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from services.catalog.schema_cache import Column, Table
from services.plan.filter_ast import PGRST_OPS, And, Condition, Node, Not, Or, Value
from services.plan.pgrst_operands import pgrst_operand
from services.plan.types import (
    ALL_FIELDS,
    BoundCondition,
    BoundLogic,
    BoundNode,
    BoundOrder,
    OrderItem,
)
from services.plan.values import coerce, coerce_text

_PATTERN_WRAP = {
    "contains": ("%", "%"),
    "not contains": ("%", "%"),
    "starts with": ("", "%"),
    "not starts with": ("", "%"),
    "ends with": ("%", ""),
    "not ends with": ("%", ""),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _operand(column: Column, value: Value, op: str) -> Any:
    raw = value.raw
    if op in PGRST_OPS:  # the PostgREST dialect's own operators
        return pgrst_operand(column, value, op)
    if op in _PATTERN_WRAP:
        before, after = _PATTERN_WRAP[op]
        return before + _escape_like("" if raw is None else str(raw)) + after
    if op in ("like", "not like", "ilike", "not ilike"):
        return "" if raw is None else str(raw)
    return coerce_text(column, raw)


# what a condition on a value inside a JSON column may test (fragments._path_condition)
PATH_OPS = frozenset(
    {"=", "!=", ">", ">=", "<", "<=", "is null", "is not null", "in", "not in", "like"}
    | {"not like", "ilike", "not ilike", "match", "imatch", "isdistinct"}
)


def _path_operand(column: Column, value: Value, op: str) -> Any:
    if op in _PATTERN_WRAP:
        before, after = _PATTERN_WRAP[op]
        return before + _escape_like("" if value.raw is None else str(value.raw)) + after
    return None if value.raw is None else str(value.raw)


def check_json_path(column: Column) -> None:
    """A JSON path (`col->key`) reads into json and jsonb columns only: else a 400."""
    if column.base_type not in ("json", "jsonb") or column.is_array:
        raise BadRequest(
            f"Invalid JSON path on field '{column.name}': it is not a json or jsonb column."
        )


def bind_filter(node: Node, table: Table) -> BoundNode:
    """Resolve a filter AST's fields and coerce its values."""
    if isinstance(node, Condition):
        column = table.find_column(node.field)
        if column is None:
            raise BadRequest(f"Invalid or unparsable field in filter request: '{node.field}'")
        value: Any
        # inside a JSON value: text, compared as text (->>) or read as JSON by the server (->)
        operand = _path_operand if node.path is not None else _operand
        if node.path is not None:
            check_json_path(column)
            if node.op not in PATH_OPS:
                raise BadRequest(f"The operator '{node.op}' can not test a value in a JSON field.")
        if node.value is None:
            value = None
        elif isinstance(node.value, tuple):
            value = tuple(operand(column, v, node.op) for v in node.value)
        else:
            value = operand(column, node.value, node.op)
        op = node.op
        if value is None and op in ("=", "!="):
            op = "is null" if op == "=" else "is not null"
        return BoundCondition(column, op, value, node.path)
    if isinstance(node, Not):
        return BoundLogic("not", (bind_filter(node.item, table),))
    if isinstance(node, And):
        return BoundLogic("and", tuple(bind_filter(i, table) for i in node.items))
    if isinstance(node, Or):
        return BoundLogic("or", tuple(bind_filter(i, table) for i in node.items))
    raise TypeError(f"unknown filter node {node!r}")  # pragma: no cover


def conjunction(*nodes: BoundNode | None) -> BoundNode | None:
    present = tuple(n for n in nodes if n is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else BoundLogic("and", present)


def bind_columns(
    table: Table, fields: tuple[str, ...] | None, default: tuple[Column, ...]
) -> tuple[Column, ...]:
    """The selected columns in table order; unknown names are a 400."""
    if fields is None:
        return default
    if fields == ALL_FIELDS:
        return table.columns
    chosen = {table.column(f).name for f in fields}
    return tuple(c for c in table.columns if c.name in chosen)


def bind_order(table: Table, order: tuple[OrderItem, ...]) -> tuple[BoundOrder, ...]:
    out = []
    for item in order:
        column = table.find_column(item.field)
        if column is None:
            raise BadRequest(f"Invalid field '{item.field}' in order by clause.")
        if item.path is not None:
            check_json_path(column)
        out.append(BoundOrder(column, item.descending, item.nulls, item.path))
    return tuple(out)


def key_tuple(keys: tuple[Column, ...], raw: Any) -> tuple[Any, ...]:
    """Coerce one identifier (a URL id, an ids item) for the key column(s)."""
    if len(keys) == 1:
        return (coerce(keys[0], raw),)
    # composite keys addressed by one value: DF gives the value to every key field (spec §3.5)
    return tuple(coerce(k, raw) for k in keys)


def key_label(raw: Any) -> str:
    if isinstance(raw, tuple):
        return ",".join(str(v) for v in raw)
    return str(raw)


def coerce_key(keys: tuple[Column, ...], raw: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(coerce(k, v) for k, v in zip(keys, raw, strict=True))


def record_key(keys: tuple[Column, ...], record: Any, index: int) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise BadRequest(f"Record {index} must be a JSON object.")
    missing = [k.name for k in keys if _get_ci(record, k.name) is _MISSING]
    if missing:
        raise BadRequest(f"Required id field(s) not found in record {index}: {', '.join(missing)}.")
    return tuple(_get_ci(record, k.name) for k in keys)


_MISSING = object()


def _get_ci(record: dict[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lowered = name.lower()
    for key, value in record.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return _MISSING
