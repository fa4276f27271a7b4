"""Input typing: coerce client values (JSON or filter text) to what a column takes (spec §3.11).

Integers, numerics, booleans and UUIDs are checked here so the 400 names the field; other types
are passed as untyped text and PostgreSQL parses them for the target column.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg.types.json import Jsonb

from core.errors import BadRequest
from services.catalog.schema_cache import Column

_INT_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_BOOL_TEXT = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
    "y": True,
    "n": False,
    "on": True,
    "off": False,
}
_INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
# Deepest nesting of objects and arrays in one value: deeper documents are refused with a 400
# (the converters below, and every JSON encoder, recurse once per level).
MAX_NESTING = 100
_TEXTUAL = frozenset({"text", "varchar", "bpchar", "name", "citext"})


_MAX_INT_DIGITS = 19  # significant digits of the largest bigint


def _int(column: Column, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        result = int(value)
    elif isinstance(value, str) and _INT_RE.match(value):
        if len(value.strip().lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
            # no integer column holds it (and int() of over 4,300 digits raises ValueError)
            raise BadRequest(f"Field '{column.name}' is out of range for type {column.db_type}.")
        result = int(value)
    else:
        raise BadRequest(f"Field '{column.name}' must be a valid integer.")
    bound = _INT_RANGES[column.base_type]
    if not -bound <= result < bound:
        raise BadRequest(f"Field '{column.name}' is out of range for type {column.db_type}.")
    return result


def _decimal(column: Column, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise BadRequest(f"Field '{column.name}' must be a valid number.")
    try:
        result = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise BadRequest(f"Field '{column.name}' must be a valid number.") from None
    return result


def _bool(column: Column, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.strip().lower()]
    raise BadRequest(f"Field '{column.name}' must be a valid boolean.")


def _uuid(column: Column, value: Any) -> str:
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        raise BadRequest(f"Field '{column.name}' must be a valid UUID.") from None


def dumps_exact(value: Any) -> str:
    """JSON text for a parsed body value; Decimals (exact body numbers) keep their digits."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = (json.dumps(str(k)) + ":" + dumps_exact(v) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    return json.dumps(value)


def _json(column: Column, value: Any) -> Jsonb:
    """Nested JSON is stored as is; a string holding a JSON object or array is parsed first."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("{", "["):
            try:
                value = json.loads(stripped)
            except ValueError:
                pass
    return Jsonb(value, dumps=dumps_exact)


def _bytea(column: Column, value: Any) -> bytes:
    if not isinstance(value, str):
        raise BadRequest(f"Field '{column.name}' must be a base64 string.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"Field '{column.name}' must be valid base64.") from None


def _array_literal(column: Column, value: list[Any]) -> str:
    """A PostgreSQL array literal for a JSON list (elements quoted; nested lists allowed)."""

    def item(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, list):
            return _array_literal(column, v)
        if isinstance(v, bool):
            text = "true" if v else "false"
        elif isinstance(v, dict):
            text = dumps_exact(v)
        else:
            text = str(v)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(item(v) for v in value) + "}"


def check_nesting(value: Any, what: str) -> None:
    """A 400 naming `what` when `value` nests objects and arrays over MAX_NESTING levels."""
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        item, depth = level.pop()
        if depth > MAX_NESTING:
            raise BadRequest(
                f"{what} nests objects and arrays more than {MAX_NESTING} levels deep; "
                "flatten the value.",
                context={"max_nesting": MAX_NESTING},
            )
        children = item.values() if isinstance(item, dict) else item
        level.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


def coerce(column: Column, value: Any) -> Any:
    """The bound-parameter value for writing or comparing `value` with `column`."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        check_nesting(value, f"Field '{column.name}'")
    if isinstance(value, str) and "\x00" in value:
        raise BadRequest(f"Field '{column.name}' can not hold a NUL (\\u0000) character.")
    base = column.base_type
    if column.is_array:
        if isinstance(value, list):
            return _array_literal(column, value)
        if isinstance(value, str):
            return value
        raise BadRequest(f"Field '{column.name}' must be an array.")
    if base in _INT_RANGES:
        if value == "" and column.nullable:
            return None
        return _int(column, value)
    if base in ("numeric", "float4", "float8", "money"):
        if value == "" and column.nullable:
            return None
        return _decimal(column, value)
    if base == "bool":
        return _bool(column, value)
    if base == "uuid":
        return _uuid(column, value)
    if base in ("json", "jsonb"):
        return _json(column, value)
    if base == "bytea":
        return _bytea(column, value)
    if isinstance(value, (dict, list)):
        if base in _TEXTUAL:
            return dumps_exact(value)
        raise BadRequest(f"Field '{column.name}' does not take an object or array value.")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def coerce_text(column: Column, value: Any) -> Any:
    """Coerce a filter operand: like coerce(), but JSON columns compare as text."""
    if column.base_type in ("json", "jsonb") and not column.is_array:
        return None if value is None else (value if isinstance(value, str) else dumps_exact(value))
    return coerce(column, value)
