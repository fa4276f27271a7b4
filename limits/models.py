"""Rate limits (spec §10): how many calls a scope (everyone, a user, each user, a role, a
service, an endpoint) may make per period. Counters live in the cache, never here."""

from __future__ import annotations

from django.db import models

LIMIT_TYPES = (
    "instance",
    "instance.user",
    "instance.each_user",
    "instance.role",
    "instance.service",
    "instance.user.service",
    "instance.each_user.service",
    "instance.service.endpoint",
    "instance.user.service.endpoint",
    "instance.each_user.service.endpoint",
)
PERIODS = ("minute", "hour", "day", "7-day", "30-day")
PERIOD_SECONDS = (60, 3600, 86400, 7 * 86400, 30 * 86400)


class Limit(models.Model):
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    type = models.CharField(max_length=40, choices=[(t, t) for t in LIMIT_TYPES])
    rate = models.PositiveIntegerField(help_text="calls allowed per period")
    period = models.PositiveSmallIntegerField(
        choices=list(enumerate(PERIODS)), default=0, help_text="the counting window"
    )
    user = models.ForeignKey("rbac.User", on_delete=models.CASCADE, null=True, blank=True)
    role = models.ForeignKey("rbac.Role", on_delete=models.CASCADE, null=True, blank=True)
    service = models.ForeignKey("services.Service", on_delete=models.CASCADE, null=True, blank=True)
    endpoint = models.CharField(
        max_length=255,
        blank=True,
        help_text="the path within the service, e.g. _table/contacts; a trailing * matches by "
        "prefix (_table/contacts* also covers _table/contacts/5)",
    )
    verb = models.CharField(
        max_length=8, blank=True, help_text="count only this verb (GET, POST, ...); blank: all"
    )
    is_active = models.BooleanField(default=True)
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def period_name(self) -> str:
        return PERIODS[self.period]

    @property
    def key_text(self) -> str:
        """DF's description of the limit's scope: instance.user:7.service:5.minute."""
        scope = key_text(self.type, self.user_id, self.role_id, self.service_id, self.endpoint)
        return f"{scope}.{self.period_name}"


def key_text(
    type_: str, user_id: int | None, role_id: int | None, service_id: int | None, endpoint: str
) -> str:
    """DF's description of a limit's scope, without the period: instance.user:7.service:5."""
    parts = ["instance"]
    for segment in type_.split(".")[1:]:
        value = {
            "user": f"user:{user_id}",
            "each_user": "each_user",
            "role": f"role:{role_id}",
            "service": f"service:{service_id}",
            "endpoint": f"endpoint:{endpoint}",
        }[segment]
        parts.append(value)
    return ".".join(parts)
