"""Service changes bump the shared version stamp so every process reloads them."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.metadata import bump
from services.execution import read_cache
from services.models import Service


@receiver(post_save, sender=Service)
@receiver(post_delete, sender=Service)
def metadata_changed(sender: Any, **kwargs: Any) -> None:
    bump()


@receiver(post_save, sender=Service)
def service_saved(sender: Any, instance: Service, **kwargs: Any) -> None:
    """Writes only bump table generations while caching is on: after any change of the
    service (caching switched off and on again, another database) nothing cached is reused."""
    read_cache.invalidate_service(instance.pk)
