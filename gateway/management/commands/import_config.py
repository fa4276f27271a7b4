"""`manage.py import_config FILE [--dry-run]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import GatewayError
from gateway.config_import import import_config


class Command(BaseCommand):
    help = (
        "Apply a file written by export_config, in one transaction: each record is created or "
        "updated by its name (a user by email); nothing the file does not mention is deleted "
        "(a role's listed rules become that role's rules). Prints one line per record: "
        "created, updated or unchanged. A bad file changes nothing and exits with status 2."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the JSON file ('-' reads standard input)")
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would change; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        document = _read(options["file"])
        try:
            changes = import_config(document, dry_run=options["dry_run"])
        except GatewayError as exc:
            raise CommandError(f"{exc.message} Nothing was changed.", returncode=2) from None
        for change in changes:
            self.stdout.write(change.line())
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")


def _read(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"Cannot read {name}: {exc}", returncode=2) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            returncode=2,
        ) from None
