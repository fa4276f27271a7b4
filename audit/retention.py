"""Retention: delete audit events older than a number of days (GATEWAY_AUDIT_RETENTION_DAYS,
run by the flusher at most hourly, and by `manage.py purge_audit`).

Never deletes an event younger than the cut-off, and never anything with `days` <= 0 (keep
forever).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from audit.models import AuditEvent


def purge(days: int) -> int:
    """Delete the events that began more than `days` days ago; returns how many went."""
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    # no relations and no signals: Django deletes with one DELETE ... WHERE time < cutoff
    deleted, _ = AuditEvent.objects.filter(time__lt=cutoff).delete()
    return deleted
