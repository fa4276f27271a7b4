"""Metadata changes (services, users) bump the shared version stamp so every process reloads."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from rbac.models import User
from rbac.sessions import clear_caches
from services import read_cache
from services.models import Service
from services.registry import bump_metadata_version, registry


@receiver(post_save, sender=Service)
@receiver(post_delete, sender=Service)
@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def metadata_changed(sender: Any, **kwargs: Any) -> None:
    bump_metadata_version()


@receiver(post_save, sender=Service)
def service_saved(sender: Any, instance: Service, **kwargs: Any) -> None:
    """Writes only bump table generations while caching is on: after any change of the
    service (caching switched off and on again, another database) nothing cached is reused."""
    read_cache.invalidate_service(instance.pk)


registry.on_change(clear_caches)
