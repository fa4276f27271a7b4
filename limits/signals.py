"""A saved or deleted limit bumps the metadata version: every process reloads its limits."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.metadata import bump, stamp
from limits import counters, rules
from limits.models import Limit


@receiver(post_save, sender=Limit)
@receiver(post_delete, sender=Limit)
def limits_changed(sender: Any, **kwargs: Any) -> None:
    bump()


stamp.on_change(rules.clear_cache)
stamp.on_change(counters.clear_leases)  # a reset anywhere reaches every process's leases
