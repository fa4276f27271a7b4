"""Admin console for lookups: global ones, or owned by one app, role or user (spec §7.6)."""

from __future__ import annotations

from django.contrib import admin

from lookups.models import Lookup
from lookups.records import MASK


@admin.register(Lookup)
class LookupAdmin(admin.ModelAdmin):
    list_display = ("name", "shown_value", "private", "owner")
    list_filter = ("private",)
    search_fields = ("name", "description")
    fields = ("name", "value", "private", "description", "app", "role", "user")

    @admin.display(description="value")
    def shown_value(self, obj: Lookup) -> str:
        return MASK if obj.private else obj.value

    @admin.display(description="applies to")
    def owner(self, obj: Lookup) -> str:
        for label, value in (("app", obj.app), ("role", obj.role), ("user", obj.user)):
            if value is not None:
                return f"{label} {value}"
        return "everyone (system-wide)"
