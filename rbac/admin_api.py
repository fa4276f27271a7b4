"""`/api/v2/system/admin` (spec §9.2): the same records as `system/user`, for admins only (users
with is_staff). Records created here are admins. The last active admin cannot be deleted or
deactivated, so an instance never locks itself out of its own system API.

Its sub-resources `admin/session`, `admin/password` and `admin/profile` are the user service's
views for admins (rbac/session_api.py, rbac/password_api.py, rbac/profile_api.py).
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest
from core.system_records import RecordResource, views_for
from rbac.models import User
from rbac.user_api import UserResource

LAST_ADMIN = "The last active admin cannot be {what}; make another user an admin first."


def _other_active_admins(user: User) -> bool:
    return User.objects.filter(is_staff=True, is_active=True).exclude(pk=user.pk).exists()


class AdminResource(UserResource):
    def queryset(self) -> Any:
        return User.objects.filter(is_staff=True)

    def get(self, pk: Any) -> Any:
        return RecordResource.get(self, pk)  # a user who is no admin is simply not found here

    def validated(self, fields: dict[str, Any], instance: Any | None) -> Any:
        was_active = instance is not None and instance.is_active
        user = super().validated(fields, instance)
        if instance is None:
            user.is_staff = user.is_superuser = True
        elif was_active and not user.is_active and not _other_active_admins(user):
            instance.is_active = True
            raise BadRequest(LAST_ADMIN.format(what="deactivated"))
        return user

    def remove(self, obj: Any) -> None:
        if obj.is_active and not _other_active_admins(obj):
            raise BadRequest(LAST_ADMIN.format(what="deleted"))
        super().remove(obj)


admin_collection, admin_detail = views_for(AdminResource(), "Admin")
