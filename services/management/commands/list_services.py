"""`manage.py list_services [--json]`: the registered services, never their passwords."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from services.models import Service

COLUMNS = ("NAME", "LABEL", "ACTIVE", "DATABASE", "SCHEMA")


class Command(BaseCommand):
    help = "List the registered services (name, label, active, host:port/database, schema)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print a JSON array instead")

    def handle(self, *args: Any, **options: Any) -> None:
        # the password column is never loaded, so it can never be printed
        services = Service.objects.databases().defer("password").order_by("name")
        records = [
            {
                "id": s.pk,
                "name": s.name,
                "label": s.label,
                "is_active": s.is_active,
                "host": s.host,
                "port": s.port,
                "database": s.database,
                "schema": s.schema,
            }
            for s in services
        ]
        if options["json"]:
            self.stdout.write(json.dumps(records, indent=2))
            return
        if not records:
            self.stdout.write("No services registered.")
            return
        rows = [
            (
                r["name"],
                r["label"],
                "yes" if r["is_active"] else "no",
                f"{r['host']}:{r['port']}/{r['database']}",
                r["schema"],
            )
            for r in records
        ]
        widths = [max(len(str(row[i])) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
        for row in [COLUMNS, *rows]:
            line = "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            )
            self.stdout.write(line.rstrip())
