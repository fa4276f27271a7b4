"""Lookups (spec §7.6): admin-defined `{name}` values, instance-wide or owned by one app, role
or user; DF keeps them in four tables (system/app/role/user lookup), here one table whose
owner columns say which. The owners are named by string so this package imports none of them.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

NO_OWNER = Q(role__isnull=True, user__isnull=True, app__isnull=True)


class Lookup(models.Model):
    name = models.CharField(max_length=64, help_text="used as {name}")
    value = models.TextField(blank=True)
    private = models.BooleanField(
        default=False,
        help_text="Only substituted inside service configuration; never shown or sent to clients.",
    )
    description = models.TextField(blank=True)
    role = models.ForeignKey(
        "rbac.Role", on_delete=models.CASCADE, null=True, blank=True, related_name="lookups"
    )
    user = models.ForeignKey(
        "rbac.User", on_delete=models.CASCADE, null=True, blank=True, related_name="lookups"
    )
    app = models.ForeignKey(
        "apikeys.App", on_delete=models.CASCADE, null=True, blank=True, related_name="lookups"
    )
    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    NO_OWNER
                    | Q(role__isnull=False, user__isnull=True, app__isnull=True)
                    | Q(role__isnull=True, user__isnull=False, app__isnull=True)
                    | Q(role__isnull=True, user__isnull=True, app__isnull=False)
                ),
                name="lookup_has_at_most_one_owner",
            ),
            models.UniqueConstraint(fields=["name"], condition=NO_OWNER, name="one_system_lookup"),
            models.UniqueConstraint(
                fields=["role", "name"], condition=Q(role__isnull=False), name="one_role_lookup"
            ),
            models.UniqueConstraint(
                fields=["user", "name"], condition=Q(user__isnull=False), name="one_user_lookup"
            ),
            models.UniqueConstraint(
                fields=["app", "name"], condition=Q(app__isnull=False), name="one_app_lookup"
            ),
        ]

    def __str__(self) -> str:
        return f"{{{self.name}}}"
