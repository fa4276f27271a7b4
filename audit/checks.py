"""System checks for the audit settings (IDs audit.E00x). Never changes a setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

MODES = ("db", "log", "off")


@register()
def check_audit_settings(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.GATEWAY_AUDIT not in MODES:
        problems.append(
            Error(
                f"GATEWAY_AUDIT is {settings.GATEWAY_AUDIT!r}.",
                hint='Use "db" (buffered to the metadata database), "log" or "off".',
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
    return problems
