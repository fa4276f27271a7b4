"""Admin console registration for users; `is_staff` is shown as "System admin" (issue #4)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Field
from django.http import HttpRequest

from rbac.models import User

SYSTEM_ADMIN = "System admin"


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    ordering = ("email",)
    list_display = ("email", "name", "system_admin", "is_active")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "first_name", "last_name")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    list_filter = ("is_staff", "is_active")
    filter_horizontal = ()

    @admin.display(description=SYSTEM_ADMIN, boolean=True, ordering="is_staff")
    def system_admin(self, obj: User) -> bool:
        return bool(obj.is_staff)

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest | None, **kwargs: Any
    ) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "is_staff" and formfield is not None:
            formfield.label = SYSTEM_ADMIN
            formfield.help_text = "May sign in to this admin console and the system API."
        return formfield
