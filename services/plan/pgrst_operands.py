"""Bind stage, the PostgREST dialect's own operators: which column types take each one, and
the bound value (a 400 naming the column and operator when the type does not fit).

Containment and overlap (`cs`, `cd`, `ov`) take arrays, ranges and (cs/cd) jsonb; the range
positions (`sl`, `sr`, `nxr`, `nxl`, `adj`) ranges only; full-text search a text or tsvector
column; regular expressions any column (compared as text); `isdistinct` any column.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from services.catalog.schema_cache import Column
from services.plan.filter_ast import FTS_OPS, RANGE_SIDE_OPS, REGEX_OPS, Value
from services.plan.values import coerce_text

_TEXTUAL = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_RANGE_CATEGORY = "R"  # pg_type.typcategory of range and multirange types


def is_range(column: Column) -> bool:
    return column.category == _RANGE_CATEGORY and not column.is_array


def _fits(column: Column, op: str) -> bool:
    if op in RANGE_SIDE_OPS:
        return is_range(column)
    if op in ("cs", "cd"):
        return column.is_array or is_range(column) or column.base_type == "jsonb"
    if op == "ov":
        return column.is_array or is_range(column)
    if op in FTS_OPS:
        return not column.is_array and (
            column.base_type in _TEXTUAL or column.base_type == "tsvector"
        )
    return True


_TAKES = {
    "cs": "an array, range or jsonb column",
    "cd": "an array, range or jsonb column",
    "ov": "an array or range column",
    **{op: "a range column" for op in RANGE_SIDE_OPS},
    **{op: "a text or tsvector column" for op in FTS_OPS},
}


def pgrst_operand(column: Column, value: Value, op: str) -> Any:
    """The bound value of `value` under the dialect's operator `op` on `column`."""
    if not _fits(column, op):
        raise BadRequest(
            f"Operator '{op}' does not apply to field '{column.name}' of type "
            f"{column.db_type}: it takes {_TAKES[op]}.",
            context={"pgrst": "42883", "details": f"{column.name} is {column.db_type}"},
        )
    raw = value.raw
    if op in REGEX_OPS or op in FTS_OPS:
        if isinstance(raw, str) and "\x00" in raw:
            raise BadRequest(f"Field '{column.name}' can not hold a NUL (\\u0000) character.")
        return raw  # a pattern, a language or a query: text, not the column's type
    return coerce_text(column, raw)
