"""MetadataVersion: the one row whose counters every process polls (core/metadata.py).

It lived in the services app; its table keeps that name (the move was state only).
"""

from __future__ import annotations

from django.db import models


class MetadataVersion(models.Model):
    """A single row whose counter every process polls to notice metadata changes."""

    version = models.BigIntegerField(default=0)
    # counts session-token revocations (logouts, refreshes): they reload only the revocations
    revocations = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "metadata version"
        db_table = "services_metadataversion"

    def __str__(self) -> str:
        return f"metadata version {self.version}"


class CorsRule(models.Model):
    """A `system/cors` record (spec §9.2, §12.1): CORS for the API paths matching `path` (a
    glob, or a regex when it starts with `^`) and the origins in `origin` (comma-separated,
    `*` for any); gateway/cors.py applies the enabled ones."""

    path = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    origin = models.CharField(max_length=1024)
    header = models.TextField(blank=True, default="*")
    exposed_header = models.TextField(blank=True, default="")
    method = models.PositiveIntegerField(default=31, help_text="verb mask: GET=1 ... DELETE=16")
    max_age = models.PositiveIntegerField(default=0, help_text="seconds; 0 sends none")
    supports_credentials = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "CORS rule"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.path} from {self.origin}"
