"""App config for the baseline."""

from __future__ import annotations

from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "bench.baseline"
    label = "baseline"
    default_auto_field = "django.db.models.BigAutoField"
