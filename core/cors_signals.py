"""A saved or deleted CORS record bumps the metadata version, so every process's CORS snapshot
(gateway/cors.py) is re-read at its next poll."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.metadata import bump
from core.models import CorsRule


@receiver(post_save, sender=CorsRule)
@receiver(post_delete, sender=CorsRule)
def cors_changed(sender: Any, **kwargs: Any) -> None:
    bump()
