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
