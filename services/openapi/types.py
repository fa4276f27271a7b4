"""OpenAPI 3.1 JSON Schemas for columns and tables (part of the per-service document).

Pure: reads the schema cache only; never touches the database or the request.
"""

from __future__ import annotations

import re
from typing import Any

from services.catalog.schema_cache import Column, Table

# pg_type.typname -> JSON Schema (without nullability)
_BASE: dict[str, dict[str, Any]] = {
    "int2": {"type": "integer", "format": "int32"},
    "int4": {"type": "integer", "format": "int32"},
    "int8": {"type": "integer", "format": "int64"},
    "oid": {"type": "integer", "format": "int64"},
    "numeric": {"type": "number"},
    "float4": {"type": "number", "format": "float"},
    "float8": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "timestamptz": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "timetz": {"type": "string", "format": "time"},
    "uuid": {"type": "string", "format": "uuid"},
    "bytea": {"type": "string", "format": "byte", "contentEncoding": "base64"},
    "json": {},  # any JSON value
    "jsonb": {},
}
_STRING_WITH_LENGTH = {"varchar", "bpchar"}


def base_type_schema(base_type: str) -> dict[str, Any]:
    """The schema of one value of a PostgreSQL type (pg_type.typname); text for the rest."""
    return dict(_BASE.get(base_type, {"type": "string"}))


def _element_schema(column: Column) -> dict[str, Any]:
    """The schema of one value of the column's base (element) type."""
    known = _BASE.get(column.base_type)
    if known is not None:
        return dict(known)
    schema: dict[str, Any] = {"type": "string"}
    if column.base_type in _STRING_WITH_LENGTH and column.length and not column.is_array:
        schema["maxLength"] = column.length
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1 nullability: add "null" to the type (an untyped schema already allows it)."""
    kind = schema.get("type")
    if kind is None:
        return schema
    return {**schema, "type": [kind, "null"]}


def column_schema(column: Column) -> dict[str, Any]:
    """The JSON Schema of a column's values, as the API reads and writes them."""
    schema = _element_schema(column)
    if column.is_array:
        schema = {"type": "array", "items": schema}
    if column.nullable and not column.is_primary_key:
        schema = _nullable(schema)
    schema["description"] = column.db_type
    if column.is_generated or column.auto_increment:
        schema["readOnly"] = True
    return schema


def key_schema(table: Table) -> dict[str, Any]:
    """The `{id}` path parameter's schema: the key column's type, or a comma list if composite."""
    if len(table.primary_key) == 1:
        column = table.column(table.primary_key[0])
        schema = _element_schema(column)
        schema.pop("contentEncoding", None)
        return schema
    return {"type": "string", "description": "key values separated by commas"}


def record_schema(table: Table) -> dict[str, Any]:
    """A record of the table: every column, none required (`fields` may select a subset)."""
    return {
        "type": "object",
        "title": table.name,
        "description": f"A record of the {'view' if table.is_view else 'table'} {table.name}.",
        "properties": {c.name: column_schema(c) for c in table.columns},
    }


def pascal(name: str) -> str:
    """`order_items` -> `OrderItems`, `Table With Space` -> `TableWithSpace`."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", name) if p]
    return "".join(p[0].upper() + p[1:] for p in parts) or "X"


class UniqueNames:
    """Hands out names that are unique within one document (suffixes 2, 3, ... on a clash)."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self._taken = {n.lower() for n in taken or set()}

    def __call__(self, name: str) -> str:
        candidate, n = name, 1
        while candidate.lower() in self._taken:
            n += 1
            candidate = f"{name}{n}"
        self._taken.add(candidate.lower())
        return candidate
