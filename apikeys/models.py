"""Apps: API key holders with a default role (spec §8.1). Keys are stored only as a keyed hash.

The key itself is shown once, when it is generated (apikeys/keys.py); `api_key_prefix` lets an
admin recognise it afterwards.
"""

from __future__ import annotations

from django.db import models


class App(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    role = models.ForeignKey(
        "rbac.Role",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="apps",
        help_text="Default role: what the app's key may do, and what its users get when no "
        "role is assigned to them for this app.",
    )
    api_key_prefix = models.CharField(max_length=12, editable=False)
    api_key_digest = models.CharField(max_length=64, unique=True, editable=False)
    key_created_date = models.DateTimeField(null=True, editable=False)
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
