"""`{"expression": ...}` field values (spec §3.11): NULL, a few date/time words, else a 400.

DF writes an expression as raw SQL. We never send client text as SQL: `NULL` becomes a NULL
parameter, and the current-time expressions become PostgreSQL's special input values ('now',
'today'), bound like any other value, so the single-insert statement cache and the COPY path
see a plain value. Anything else is refused with DF's message.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from services.catalog.schema_cache import Column

_DATETIME = frozenset({"date", "time", "timetz", "timestamp", "timestamptz"})
# expression (upper-cased, spaces removed) -> the input text PostgreSQL reads as the same value
_ALLOWED = {
    "NOW()": "now",
    "CURRENT_TIMESTAMP": "now",
    "CURRENT_TIMESTAMP()": "now",
    "LOCALTIMESTAMP": "now",
    "CURRENT_DATE": "today",
}


def is_expression(value: Any) -> bool:
    """An object whose one key is `expression` (any column type, json included: spec §3.11)."""
    return type(value) is dict and len(value) == 1 and "expression" in value


def _text_of(value: Any) -> str:
    """The expression's SQL text: `"NOW()"` or `{"value": "NOW()", "params": [...]}`."""
    expr = value["expression"]
    if isinstance(expr, dict):
        expr = expr.get("value")
    return expr if isinstance(expr, str) else str(expr)


def expression_value(column: Column, value: Any) -> Any:
    """The bound value an expression stands for in `column`, or a 400 naming the expression."""
    text = _text_of(value)
    word = "".join(text.split()).upper()
    if word == "NULL":
        return None
    if word in _ALLOWED and column.base_type in _DATETIME and not column.is_array:
        return _ALLOWED[word]
    raise BadRequest(f"SQL expression '{text}' is not permitted.")


def resolve(column: Column, value: Any) -> Any:
    """`value` as written by the client, with an expression replaced by what it stands for."""
    return expression_value(column, value) if is_expression(value) else value
