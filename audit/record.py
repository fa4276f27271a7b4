"""The shape of one audit record: a plain tuple taken from a RequestContext on the request path,
turned into a dict (log lines, exports) or an AuditEvent (database) later, off that path.

Never reads a request, a response body or a header: only RequestContext fields, which hold no
body, key, token or password. Never touches the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from audit.models import AuditEvent
from core.context import RequestContext

# The order of a Row's items. `time` is a Unix timestamp in a Row, a datetime everywhere else.
FIELDS = (
    "time",
    "request_id",
    "app_id",
    "app_name",
    "user_id",
    "user_email",
    "role_id",
    "role_name",
    "service",
    "resource",
    "verb",
    "status",
    "duration_ms",
    "rows",
    "client",
    "is_admin",
)

Row = tuple[Any, ...]


def row_from(context: RequestContext) -> Row:
    """The record of a finished request, as cheaply as Python allows (it runs on the request
    path): a tuple in FIELDS order, no conversions."""
    c = context
    return (
        c.started_at,
        c.request_id,
        c.app_id,
        c.app_name,
        c.user_id,
        c.user_email,
        c.role_id,
        c.role_name,
        c.service,
        c.resource,
        c.verb,
        c.status,
        c.duration * 1000.0,
        c.rows,
        c.client,
        c.is_admin,
    )


@cache
def _text_limits() -> dict[str, int]:
    """Each text field's column length (read from the model once)."""
    return {
        f.name: int(getattr(f, "max_length", 0))
        for f in AuditEvent._meta.get_fields()
        if f.name in FIELDS and getattr(f, "max_length", None)
    }


def fields_of(row: Row) -> dict[str, Any]:
    """A Row as AuditEvent field values: `time` a UTC datetime, texts never None and cut to
    their column's length, the duration rounded to microseconds."""
    values = dict(zip(FIELDS, row, strict=True))
    values["time"] = datetime.fromtimestamp(row[0], tz=UTC)
    values["duration_ms"] = round(float(values["duration_ms"]), 3)
    values["status"] = int(values["status"] or 0)
    for name, limit in _text_limits().items():
        value = values[name]
        values[name] = "" if value is None else str(value)[:limit]
    return values


_TIME = FIELDS.index("time")
_STATUS = FIELDS.index("status")
_DURATION = FIELDS.index("duration_ms")


@cache
def _text_slots() -> tuple[tuple[int, int], ...]:
    """(index in a Row, column length) of each text field."""
    return tuple((FIELDS.index(name), limit) for name, limit in _text_limits().items())


def copy_values(row: Row) -> list[Any]:
    """What fields_of() gives, as a list in FIELDS order, without the dict (COPY writes a few
    hundred thousand of these a minute under load)."""
    values = list(row)
    values[_TIME] = datetime.fromtimestamp(row[_TIME], tz=UTC)
    values[_STATUS] = int(row[_STATUS] or 0)
    values[_DURATION] = round(float(row[_DURATION]), 3)
    for index, limit in _text_slots():
        value = values[index]
        if value is None:
            values[index] = ""
        elif not isinstance(value, str) or len(value) > limit:
            values[index] = str(value)[:limit]
    return values


def as_json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """AuditEvent field values (with or without `id`) with the time as an ISO 8601 string."""
    when = values["time"]
    return {**values, "time": when.isoformat() if isinstance(when, datetime) else when}
