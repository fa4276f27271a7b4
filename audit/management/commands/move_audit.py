"""`manage.py move_audit [--batch N]`: move the audit events a gateway from before the audit
store of its own left in the metadata database (its table audit_auditevent) to the audit store,
oldest first, in batches; each batch is written to the store, then deleted from the metadata
database. The servers may keep running meanwhile.

Never deletes an event before the store has committed it (an interrupted run may write its last
batch twice when run again); never touches the metadata database's other tables. The emptied
table stays (dropping it is left to you: an older gateway still running would write there).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from audit.models import AuditEvent
from audit.record import FIELDS
from audit.router import ALIAS
from audit.store import describe, same_database, write_values

DELETE_IDS = 500  # ids per DELETE (old SQLite builds take at most 999 parameters)


class Command(BaseCommand):
    help = "Move audit events left in the metadata database to the audit store."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=5000, help="events per batch")

    def handle(self, *args: Any, **options: Any) -> None:
        batch = options["batch"]
        if batch <= 0:
            raise CommandError("--batch must be positive.")
        if same_database(settings.DATABASES[DEFAULT_DB_ALIAS], settings.DATABASES[ALIAS]):
            raise CommandError("The audit store is the metadata database: nothing to move.")
        table = AuditEvent._meta.db_table
        if table not in connections[DEFAULT_DB_ALIAS].introspection.table_names():
            self.stdout.write("The metadata database holds no audit table: nothing to move.")
            return
        legacy = AuditEvent.objects.using(DEFAULT_DB_ALIAS)
        moved, last = 0, 0
        while True:
            rows = list(
                legacy.filter(pk__gt=last).order_by("pk").values_list("pk", *FIELDS)[:batch]
            )
            if not rows:
                break
            with transaction.atomic(using=ALIAS):
                write_values(([*row[1:]] for row in rows), ALIAS)  # new ids in the store
            ids = [row[0] for row in rows]
            with transaction.atomic(using=DEFAULT_DB_ALIAS):  # exactly the events moved
                for start in range(0, len(ids), DELETE_IDS):
                    legacy.filter(pk__in=ids[start : start + DELETE_IDS]).delete()
            last = ids[-1]
            moved += len(rows)
            if options["verbosity"] >= 2:
                self.stdout.write(f"  moved {moved} events (up to id {last})")
        self.stdout.write(
            f"Moved {moved} audit events from the metadata database ({describe(DEFAULT_DB_ALIAS)}) "
            f"to the audit store ({describe(ALIAS)})."
        )
