"""A changed lookup bumps the metadata version: every process drops its lookup snapshot and
re-reads its services (a service config may name a lookup)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.metadata import bump, stamp
from lookups import snapshot
from lookups.models import Lookup


@receiver(post_save, sender=Lookup)
@receiver(post_delete, sender=Lookup)
def lookup_changed(sender: Any, **kwargs: Any) -> None:
    bump()


stamp.on_change(snapshot.clear_cache)
