"""Retention of the audit store, by age (GATEWAY_AUDIT_RETENTION_DAYS) and by count
(GATEWAY_AUDIT_MAX_EVENTS): the flusher runs it now and then, `manage.py purge_audit` on demand.

Deletes the oldest events first, in batches of DELETE_BATCH, each its own short transaction (a
SQLite store's other writers wait for one batch at most, never for a whole purge); the flusher
also bounds how many batches one call runs. Never deletes an event younger than the age cut-off,
nor one of the newest `keep` when trimming; `days` <= 0 and `max_events` <= 0 delete nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Min
from django.utils import timezone

from audit.models import AuditEvent

DELETE_BATCH = 5000  # events per DELETE statement (and transaction)


def _delete_oldest(
    condition: dict[str, Any], batch: int, max_batches: int | None
) -> tuple[int, bool]:
    """Delete the events matching `condition`, oldest first, `batch` a statement; stop after
    `max_batches` statements (None: none). (events deleted, whether none is left)."""
    batch = max(1, batch)
    deleted = statements = 0
    while max_batches is None or statements < max_batches:
        oldest = AuditEvent.objects.filter(**condition).order_by("time").values("pk")[:batch]
        # no relations and no signals: one DELETE ... WHERE id IN (SELECT ... LIMIT batch)
        count, _ = AuditEvent.objects.filter(pk__in=oldest).delete()
        deleted += count
        statements += 1
        if count < batch:
            return deleted, True
    return deleted, False


def purge(days: int, *, batch: int = DELETE_BATCH, max_batches: int | None = None) -> int:
    """Delete the events that began more than `days` days ago; returns how many went."""
    return purge_some(days, batch=batch, max_batches=max_batches)[0]


def purge_some(
    days: int, *, batch: int = DELETE_BATCH, max_batches: int | None = None
) -> tuple[int, bool]:
    """purge(), at most `max_batches` statements: (events deleted, whether it finished)."""
    if days <= 0:
        return 0, True
    cutoff = timezone.now() - timedelta(days=days)
    return _delete_oldest({"time__lt": cutoff}, batch, max_batches)


def _time_at(rank: int) -> datetime | None:
    """The time of the event `rank` places after the newest (0: the newest), or None when there
    are not that many (an index scan of `rank` entries)."""
    newest_first = AuditEvent.objects.order_by("-time").values_list("time", flat=True)
    found = list(newest_first[rank : rank + 1])
    return found[0] if found else None


def trim_cutoff(max_events: int, keep: int | None = None) -> datetime | None:
    """When the store holds more than `max_events` events, the time at and before which events
    go so that `keep` are left (at most `max_events`; default `max_events`; fewer on a tie);
    None when it holds no more than `max_events` (or `max_events` <= 0).

    First a cheap bound: ids are distinct integers, so there are at most max(id) - min(id) + 1
    events (two index lookups); only beyond it is the store counted, by walking the time index.
    The flusher keeps 95 % so that the walk is needed once per 5 % of `max_events` written.
    """
    if max_events <= 0:
        return None
    keep = max_events if keep is None else max(1, min(keep, max_events))
    # two queries: SQLite answers min() or max() from the index only when it is alone
    low = AuditEvent.objects.aggregate(low=Min("pk"))["low"]
    high = AuditEvent.objects.aggregate(high=Max("pk"))["high"]
    if low is None or high is None or high - low + 1 <= max_events:
        return None
    if _time_at(max_events) is None:  # not more than max_events after all
        return None
    return _time_at(keep)  # None if deleted meanwhile (another process trims too)


def delete_through(
    cutoff: datetime, *, batch: int = DELETE_BATCH, max_batches: int | None = None
) -> tuple[int, bool]:
    """Delete the events at and before `cutoff`, oldest first: (events deleted, whether it
    finished). A cut-off stays valid while newer events arrive, so a trim can go on later."""
    return _delete_oldest({"time__lte": cutoff}, batch, max_batches)


def trim(
    max_events: int,
    *,
    keep: int | None = None,
    batch: int = DELETE_BATCH,
    max_batches: int | None = None,
) -> tuple[int, bool]:
    """When the store holds more than `max_events` events, delete the oldest until `keep` are
    left (see trim_cutoff): (events deleted, whether it finished)."""
    cutoff = trim_cutoff(max_events, keep)
    if cutoff is None:
        return 0, True
    return delete_through(cutoff, batch=batch, max_batches=max_batches)
