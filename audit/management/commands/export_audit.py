"""`manage.py export_audit [--since ISO] [--until ISO] [--service S] [--output FILE]`: audit
events as JSON lines, oldest first, streamed. Never holds the whole table in memory."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.export import BadTime, lines, parse_time, select


class Command(BaseCommand):
    help = "Write audit events as JSON lines (one object per event) to stdout or --output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO 8601 date or date-time (inclusive; UTC if bare)")
        parser.add_argument("--until", help="ISO 8601 date or date-time (exclusive; UTC if bare)")
        parser.add_argument("--service", help='only this service (or "system", "user")')
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = parse_time(options["since"]) if options["since"] else None
            until = parse_time(options["until"]) if options["until"] else None
        except BadTime as exc:
            raise CommandError(str(exc)) from exc
        events = select(since, until, options["service"])
        count = 0
        if options["output"]:
            with open(options["output"], "wb") as out:
                for line in lines(events):
                    out.write(line)
                    count += 1
            self.stderr.write(f"Wrote {count} audit events to {options['output']}.")
            return
        for line in lines(events):
            self.stdout.write(line.decode(), ending="")
