"""`manage.py audit_write_cost [--events N] [--batch B] [--rounds R] [--database-url URL]`: the
CPU an audit event costs the process that writes it (the flusher, on a worker's GIL), for the
batched writer (audit.store.insert_rows) and for Django's bulk_create (what the SQLite writer
used before), on a throwaway table.

Never touches the audit store or the metadata database: a temporary SQLite file (WAL, as the
audit store's default), or with --database-url a PostgreSQL database where a schema of its own is
created and dropped. Prints µs of CPU per event (the median of the rounds).
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import environ
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections, transaction

from audit.models import AuditEvent
from audit.record import Row, fields_of
from audit.store import insert_rows

ALIAS = "audit_write_cost"


def sample_rows(count: int) -> list[Row]:
    """Rows shaped like a data API read by an app's key."""
    now = time.time()
    return [
        (
            now + n / 1000,
            uuid.uuid4().hex,
            7,
            "Dashboard",
            None,
            "",
            3,
            "shop reader",
            "shop",
            f"_table/customers/{n % 5000}",
            "GET",
            200,
            2.345 + n % 7,
            None,
            "203.0.113.7",
            False,
        )
        for n in range(count)
    ]


class Command(BaseCommand):
    help = "Measure the CPU per audit event of the batched writer and of bulk_create."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--events", type=int, default=20_000, help="events per round")
        parser.add_argument("--batch", type=int, default=500, help="events per write")
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument(
            "--database-url", default="", help="a PostgreSQL database (default: a temp SQLite file)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            schema = f"audit_cost_{uuid.uuid4().hex[:8]}"
            config = self._config(options["database_url"], Path(folder), schema)
            databases = {**settings.DATABASES, ALIAS: config}
            connections.settings[ALIAS] = connections.configure_settings(databases)[ALIAS]
            connection = connections[ALIAS]
            try:
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f'CREATE SCHEMA "{schema}"')
                with connection.schema_editor() as editor:
                    editor.create_model(AuditEvent)
                self._measure(options, connection.vendor)
            finally:
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
                connection.close()
                del connections[ALIAS]
                del connections.settings[ALIAS]

    def _config(self, url: str, folder: Path, schema: str) -> dict[str, Any]:
        if not url:
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(folder / "audit-cost.sqlite3"),
                "OPTIONS": {
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
                    "transaction_mode": "IMMEDIATE",
                },
            }
        config: dict[str, Any] = dict(environ.Env.db_url_config(url))
        config.setdefault("OPTIONS", {})["options"] = f"-c search_path={schema}"
        return config

    def _measure(self, options: dict[str, Any], vendor: str) -> None:
        events, batch = max(1, int(options["events"])), max(1, int(options["batch"]))
        rows = sample_rows(events)

        def batched(write: Callable[[list[Row]], None]) -> float:
            started = time.thread_time()
            for start in range(0, events, batch):
                with transaction.atomic(using=ALIAS):
                    write(rows[start : start + batch])
            return (time.thread_time() - started) / events * 1e6

        def bulk_create(chunk: list[Row]) -> None:
            objects = [AuditEvent(**fields_of(r)) for r in chunk]
            AuditEvent.objects.using(ALIAS).bulk_create(objects)

        def batched_writer(chunk: list[Row]) -> None:
            insert_rows(chunk, ALIAS)

        variants = {"bulk_create": bulk_create, "insert_rows": batched_writer}
        results: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(max(1, options["rounds"])):
            for name, write in variants.items():  # in turns, so drift hits both
                results[name].append(batched(write))
        self.stdout.write(
            f"{vendor}: {events:,} events per round in batches of {batch}, "
            f"{options['rounds']} rounds; µs of CPU per event (median, this thread):"
        )
        for name, values in results.items():
            spread = f"{min(values):.1f}-{max(values):.1f}"
            self.stdout.write(f"  {name:<12} {statistics.median(values):6.1f}  ({spread})")
