"""Config as code (issue #16): a configuration file (gateway/config_export.py) applied.

`import_config()` applies a document in one transaction: each record is created or updated by
its key (gateway/config_apply.py); nothing the document does not mention is deleted (a role's
`rules`, when given, are that role's rules). Any bad record is a 400 naming it, and nothing is
written; a dry run answers the same changes and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from core.errors import Conflict
from gateway import config_apply as apply
from gateway.config_apply import Change
from gateway.config_check import check_document, label
from gateway.config_rows import about
from services.models import DATABASE_TYPE


def import_config(document: Any, *, dry_run: bool = False) -> list[Change]:
    """Apply `document` in one transaction (rolled back when `dry_run`); one Change per record.
    A bad record raises BadRequest naming it, and nothing is written."""
    sections = check_document(document)
    services = sections["services"]
    steps = (  # each section after those it names
        ("services", [r for r in services if _is_database(r)], apply.service),
        ("roles", sections["roles"], apply.role),
        ("apps", sections["apps"], apply.app),
        ("users", sections["users"], apply.user),
        ("services", [r for r in services if not _is_database(r)], apply.service),
        ("limits", sections["limits"], apply.limit),
        ("lookups", sections["lookups"], apply.lookup),
        ("cors", sections["cors"], apply.cors),
    )
    changes: list[Change] = []
    try:
        with transaction.atomic():
            for section, records, apply_one in steps:
                for record in records:
                    with about(label(section, record)):
                        changes.append(apply_one(record))
            if dry_run:
                transaction.set_rollback(True)
    except IntegrityError:  # another writer got there between our checks and our writes
        raise Conflict(
            "The configuration changed while the file was being applied (another import or "
            "edit); nothing was changed. Run the import again."
        ) from None
    return changes


def _is_database(record: dict[str, Any]) -> bool:
    return bool(record.get("type", DATABASE_TYPE) == DATABASE_TYPE)
