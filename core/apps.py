"""The core app: it owns the metadata version stamp's table and the CORS records; nothing runs at
import (ready() connects the CORS records' signals)."""

from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import core.cors_signals  # noqa: F401  (a CORS record change bumps the metadata version)
