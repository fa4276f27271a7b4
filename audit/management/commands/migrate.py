"""`manage.py migrate`: Django's, which without --database migrates the metadata database and
then the audit store (the alias "audit"), so every existing instruction (`make run`,
MIGRATE_ON_START=1, the README) keeps both in step. With --database it migrates that one only
(what Django's test runner does for each alias).

Never moves data; when the metadata database still holds audit events from before the audit
store of its own, it says so and names `manage.py move_audit`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from audit.router import ALIAS
from audit.store import describe, legacy_table


class Command(migrate.Command):
    help = (
        "Updates database schemas: the metadata database, then the audit store (or only the "
        "database named by --database)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database=None)  # None: both, metadata first

    def get_check_kwargs(self, options: Any) -> dict[str | None, Any]:
        kwargs: dict[str | None, Any] = super().get_check_kwargs(
            {**options, "database": DEFAULT_DB_ALIAS}
        )
        given = options.get("database")
        kwargs["databases"] = [given] if given else [DEFAULT_DB_ALIAS, ALIAS]
        return kwargs

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("database"):
            super().handle(*args, **options)
            return
        verbose = options["verbosity"] >= 1
        if verbose:
            self.stdout.write(
                self.style.MIGRATE_HEADING(f"Metadata database ({describe('default')}):")
            )
        super().handle(*args, **{**options, "database": DEFAULT_DB_ALIAS})
        if verbose:
            self.stdout.write(self.style.MIGRATE_HEADING(f"Audit store ({describe(ALIAS)}):"))
        super().handle(*args, **{**options, "database": ALIAS})
        if options.get("plan") or options.get("check_unapplied"):
            return
        try:
            left = legacy_table(DEFAULT_DB_ALIAS)
        except DatabaseError:
            left = False
        if left:
            self.stdout.write(
                self.style.WARNING(
                    "The metadata database still holds audit events from before the audit "
                    "store of its own (they are not shown or purged there): run "
                    "`python manage.py move_audit` to move them."
                )
            )
