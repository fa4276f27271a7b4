"""`manage.py purge_audit [--days N] [--max-events N]`: delete audit events older than N days
(default GATEWAY_AUDIT_RETENTION_DAYS), then the oldest beyond N events (default
GATEWAY_AUDIT_MAX_EVENTS), in the audit store, in batches. Never deletes younger events nor
the newest N; 0 for either deletes nothing by it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.retention import purge, trim


class Command(BaseCommand):
    help = (
        "Delete audit events older than --days (default GATEWAY_AUDIT_RETENTION_DAYS), then the "
        "oldest beyond --max-events (default GATEWAY_AUDIT_MAX_EVENTS)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="keep this many days (0: keep everything)"
        )
        parser.add_argument(
            "--max-events",
            type=int,
            default=None,
            help="keep at most this many events, the newest (0: no limit)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = settings.GATEWAY_AUDIT_RETENTION_DAYS
        limit = options["max_events"]
        if limit is None:
            limit = settings.GATEWAY_AUDIT_MAX_EVENTS
        if days < 0:
            raise CommandError("--days must not be negative.")
        if limit < 0:
            raise CommandError("--max-events must not be negative.")
        if days == 0:
            self.stdout.write("Retention is 0 days (keep forever): nothing deleted by age.")
        else:
            deleted = purge(days)
            self.stdout.write(f"Deleted {deleted} audit events older than {days} days.")
        if limit == 0:
            self.stdout.write(
                "No event limit (GATEWAY_AUDIT_MAX_EVENTS 0): nothing deleted by count."
            )
            return
        deleted, _ = trim(limit)
        self.stdout.write(f"Deleted the {deleted} oldest audit events beyond {limit}.")
