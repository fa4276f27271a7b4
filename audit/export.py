"""JSON-lines export of audit events (`manage.py export_audit`, the admin's export action):
one JSON object per line, ISO 8601 times, streamed with .iterator() so memory stays flat. Reads
the audit store (AuditEvent's queries go there through audit/router.py).

Never loads a whole table into memory; never writes anything but the AuditEvent fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from audit.record import FIELDS, as_json_ready

COLUMNS = ("id", *FIELDS)
CHUNK = 2000


class BadTime(ValueError):
    """A --since/--until value that is not an ISO 8601 date or date-time."""


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadTime(f"not an ISO 8601 date or date-time: {text!r}") from exc
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def select(
    since: datetime | None = None,
    until: datetime | None = None,
    service: str | None = None,
    queryset: QuerySet[AuditEvent] | None = None,
) -> QuerySet[AuditEvent]:
    """Events with since <= time < until (each bound optional) for one service or all, oldest
    first."""
    events = AuditEvent.objects.all() if queryset is None else queryset
    if since is not None:
        events = events.filter(time__gte=since)
    if until is not None:
        events = events.filter(time__lt=until)
    if service:
        events = events.filter(service=service)
    return events.order_by("time", "id")


def lines(events: QuerySet[AuditEvent]) -> Iterator[bytes]:
    """Each event as one JSON line (bytes ending in a newline), streamed from the database."""
    values: Any = events.values(*COLUMNS)
    for row in values.iterator(chunk_size=CHUNK):
        yield orjson.dumps(as_json_ready(row)) + b"\n"
