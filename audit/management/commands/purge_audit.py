"""`manage.py purge_audit [--days N]`: delete audit events older than N days (default
GATEWAY_AUDIT_RETENTION_DAYS). Never deletes younger events; 0 days deletes nothing."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.retention import purge


class Command(BaseCommand):
    help = "Delete audit events older than --days (default GATEWAY_AUDIT_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="keep this many days (0: keep everything)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = settings.GATEWAY_AUDIT_RETENTION_DAYS
        if days < 0:
            raise CommandError("--days must not be negative.")
        if days == 0:
            self.stdout.write("Retention is 0 days (keep forever): nothing deleted.")
            return
        deleted = purge(days)
        self.stdout.write(f"Deleted {deleted} audit events older than {days} days.")
