"""Shape a routine's result for the wire (spec §5.2): `wrapper`, `returns` and `schema`.

Function results arrive as JSON text built by PostgreSQL and pass through untouched unless an
option asks for a conversion; procedure OUT values arrive as Python values from the driver.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from core.errors import BadRequest
from core.flags import FALSE_WORDS, TRUE_WORDS
from services.catalog.routines import Routine
from services.plan.types import ResultOptions
from services.plan.values import dumps_exact

_FALSE = FALSE_WORDS | {""}


def _number(value: Any) -> Decimal | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number


def convert(value: Any, kind: str) -> Any:
    """One result value as the JSON kind asked for; 400 when it is not one."""
    if value is None:
        return None
    try:
        if kind == "string":
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            return dumps_exact(value) if isinstance(value, (dict, list)) else str(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str):
                text = value.strip().lower()
                if text in TRUE_WORDS or text in _FALSE:
                    return text in TRUE_WORDS
                raise ValueError(value)
            return _number(value) != 0
        number = _number(value)
        return int(number) if kind == "integer" else number
    except (ValueError, TypeError):
        raise BadRequest(
            f"The result value {dumps_exact(plain(value))} can not be returned as {kind}.",
        ) from None


def plain(value: Any) -> Any:
    """A driver value as JSON-ready data (PostgreSQL's JSON spelling where it differs)."""
    if value is None or isinstance(value, (str, bool, int, Decimal)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _first(value: Any) -> Any:
    """The first column of the first row (a scalar stays itself)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return next(iter(value.values()), None)
    return value


def _cast_columns(value: Any, schema: tuple[tuple[str, str], ...]) -> Any:
    rows = value if isinstance(value, list) else [value]
    for row in rows:
        if isinstance(row, dict):
            for field, kind in schema:
                if field in row:
                    row[field] = convert(row[field], kind)
    return value


def _dump(value: Any) -> bytes:
    return dumps_exact(value).encode()


def function_body(routine: Routine, text: str | None, options: ResultOptions) -> bytes:
    """The response for a function call from the JSON text PostgreSQL built."""
    body = b"null" if text is None or routine.shape == "void" else text.encode()
    if options.returns is not None:
        value = json.loads(body, parse_float=Decimal)
        return _dump(convert(_first(value), options.returns))
    if options.schema:
        body = _dump(_cast_columns(json.loads(body, parse_float=Decimal), options.schema))
    rows = routine.returns_set or routine.shape in ("row", "record")
    if options.wrapper and rows:
        return b"{" + orjson.dumps(options.wrapper) + b":" + body + b"}"
    return body


def procedure_body(
    columns: list[str] | None, row: tuple[Any, ...] | None, options: ResultOptions
) -> bytes:
    """The response for a CALL: the OUT/INOUT values as an object, or the (empty) rows."""
    if columns is None:  # no OUT parameters: PostgreSQL procedures return no rows
        if options.returns is not None:
            return b"null"
        return _dump({options.wrapper: []}) if options.wrapper else b"[]"
    values = {name: plain(v) for name, v in zip(columns, row or (), strict=False)}
    if options.returns is not None:
        return _dump(convert(_first(values), options.returns))
    return _dump(_cast_columns(values, options.schema))
