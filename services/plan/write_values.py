"""One written record's fields, validated and coerced for its table (spec §3.6, §3.11)."""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from services.catalog.schema_cache import Table
from services.plan.expressions import resolve
from services.plan.values import coerce


def record_values(
    table: Table,
    record: Any,
    *,
    creating: bool,
    skip: frozenset[str],
    given: frozenset[str] = frozenset(),
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Validate and coerce one record's fields; unknown keys are dropped. `given` names
    columns the write fills itself (a nested child's link to its parent), so a create does
    not require them; `allow_empty` accepts a record with no field left (a link only)."""
    if not isinstance(record, dict):
        raise BadRequest("Each record must be a JSON object.")
    values: dict[str, Any] = {}
    for key, raw in record.items():
        column = table.find_column(key) if isinstance(key, str) else None
        if column is None or column.name in skip or column.is_generated:
            continue
        raw = resolve(column, raw)
        if raw is None and column.auto_increment and creating:
            continue
        if raw is None and not column.nullable:
            raise BadRequest(f"Field '{column.name}' can not be NULL.")
        values[column.name] = coerce(column, raw)
    if creating:
        for column in table.columns:
            if column.required and column.name not in values and column.name not in given:
                raise BadRequest(f"Required field '{column.name}' can not be NULL.")
    if not values and not allow_empty:
        raise BadRequest("No valid fields were found in record.")
    return values
