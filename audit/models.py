"""AuditEvent: one row per /api/ call (issue #6 item 3), in the audit store (the database alias
"audit": audit/router.py sends it there and nowhere else).

Never a foreign key (an event outlives the app, user, role or service it names: plain ids plus
names) and never a body, header, key, token or password.
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    time = models.DateTimeField(help_text="when the request began")
    request_id = models.CharField(max_length=64, blank=True)
    app_id = models.IntegerField(null=True, blank=True)
    app_name = models.CharField(max_length=64, blank=True)
    user_id = models.IntegerField(null=True, blank=True)
    user_email = models.CharField(max_length=254, blank=True)
    role_id = models.IntegerField(null=True, blank=True)
    role_name = models.CharField(max_length=64, blank=True)
    service = models.CharField(
        max_length=64, blank=True, help_text='a service name, or "system", "user", "api_docs"'
    )
    resource = models.CharField(max_length=1024, blank=True, help_text="path below the service")
    verb = models.CharField(max_length=16, blank=True, help_text="after verb tunnelling")
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    rows = models.BigIntegerField(null=True, blank=True, help_text="records a write wrote")
    client = models.CharField(max_length=64, blank=True, help_text="client address")
    is_admin = models.BooleanField(default=False)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["time"], name="audit_time_idx"),
            models.Index(fields=["service", "time"], name="audit_service_time_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.time:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.verb} {self.service}/{self.resource} {self.status}"
