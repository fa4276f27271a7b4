"""System checks for the audit settings and the audit store (IDs audit.E00x, audit.W00x).
Never changes a setting, never opens a connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from audit.router import ALIAS
from audit.store import same_database

MODES = ("db", "log", "off")


@register()
def check_audit_settings(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.GATEWAY_AUDIT not in MODES:
        problems.append(
            Error(
                f"GATEWAY_AUDIT is {settings.GATEWAY_AUDIT!r}.",
                hint='Use "db" (buffered to the audit store), "log" or "off".',
                id="audit.E001",
            )
        )
    sizes = {
        "GATEWAY_AUDIT_FLUSH_SECONDS": settings.GATEWAY_AUDIT_FLUSH_SECONDS,
        "GATEWAY_AUDIT_BATCH": settings.GATEWAY_AUDIT_BATCH,
        "GATEWAY_AUDIT_BUFFER": settings.GATEWAY_AUDIT_BUFFER,
    }
    for name, value in sizes.items():
        if value <= 0:
            problems.append(Error(f"{name} must be positive, not {value}.", id="audit.E002"))
    if settings.GATEWAY_AUDIT_RETENTION_DAYS < 0:
        problems.append(
            Error(
                "GATEWAY_AUDIT_RETENTION_DAYS must not be negative.",
                hint="0 keeps events forever.",
                id="audit.E003",
            )
        )
    if settings.GATEWAY_AUDIT_MAX_EVENTS < 0:
        problems.append(
            Error(
                "GATEWAY_AUDIT_MAX_EVENTS must not be negative.",
                hint="0 sets no limit.",
                id="audit.E005",
            )
        )
    problems.extend(
        store_problems(
            settings.DATABASES, settings.GATEWAY_AUDIT, settings.GATEWAY_AUDIT_DATABASE_URL
        )
    )
    return problems


def store_problems(
    databases: Mapping[str, Mapping[str, Any]], mode: str, url: str
) -> list[CheckMessage]:
    """What is wrong with the audit store in DATABASES (mode: GATEWAY_AUDIT, url:
    GATEWAY_AUDIT_DATABASE_URL as given)."""
    if ALIAS not in databases:
        return [
            Error(
                f'DATABASES has no "{ALIAS}" alias for the audit store.',
                hint="gateway/settings.py defines it from GATEWAY_AUDIT_DATABASE_URL.",
                id="audit.E006",
            )
        ]
    if same_database(databases["default"], databases[ALIAS]):
        return [
            Error(
                "GATEWAY_AUDIT_DATABASE_URL names the metadata database.",
                hint="Give the audit trail a database of its own (one database with both would "
                "share one migration history), or leave the variable unset.",
                id="audit.E004",
            )
        ]
    metadata = str(databases["default"]["ENGINE"]).rsplit(".", 1)[-1]
    if mode == "db" and not url and metadata != "sqlite3":
        return [
            Warning(
                f"The metadata database is shared ({metadata}), but the audit trail goes to a "
                f"file of this instance ({databases[ALIAS]['NAME']}).",
                hint="With several instances behind a load balancer, set "
                "GATEWAY_AUDIT_DATABASE_URL=postgres://... to a database they share (the admin's "
                "audit view then shows every instance's events); to keep the local file, set "
                "it to sqlite:////path/to/audit.sqlite3.",
                id="audit.W001",
            )
        ]
    return []
