"""System API for (non-admin) users: `/api/v2/system/user` (spec §9.2).

`password` is write-only and checked by Django's password validators; admins are managed in
the admin console and cannot be changed here (403, as in DF). A user's per-app roles are the
related list `user_to_app_to_role_by_user_id` ({app_id, role_id}; update by id, detach with
`"user_id": null`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from rest_framework import serializers
from rest_framework.request import Request

from apikeys.models import App
from core.errors import BadRequest, Forbidden, NotFound
from core.system_records import (
    RecordResource,
    apply_nested,
    nested_list,
    record_id,
    views_for,
)
from lookups.records import related_lookups, save_related_lookups
from rbac.models import Role, User, UserAppRole
from rbac.user_writes import save_user

APP_ROLES = "user_to_app_to_role_by_user_id"
LOOKUPS = "lookup_by_user_id"


class _Hashed(str):
    """A password already hashed by UserResource.prepare()."""


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("email", "name", "first_name", "last_name", "is_active")


def _app_role_fields(item: dict[str, Any], current: UserAppRole | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, model, label in (("app_id", App, "App"), ("role_id", Role, "Role")):
        if key in item or current is None:
            value = record_id(item.get(key), key)
            if not model.objects.filter(pk=value).exists():
                raise BadRequest(f"{label} with id '{value}' does not exist.")
            fields[key] = value
    return fields


def save_app_roles(user: User, items: list[dict[str, Any]]) -> None:
    """Apply a nested {app_id, role_id} list: one role per app (an existing one is replaced)."""

    def update(link: UserAppRole) -> None:
        if UserAppRole.objects.filter(user=user, app_id=link.app_id).exclude(pk=link.pk).exists():
            raise BadRequest(
                f"The user already has a role for app {link.app_id}; change that entry."
            )
        link.save()

    apply_nested(
        items,
        key=APP_ROLES,
        what="App role",
        children=user.app_roles.all(),
        fk="user_id",
        fields_for=_app_role_fields,
        create=lambda f: UserAppRole.objects.update_or_create(
            user=user, app_id=f["app_id"], defaults={"role_id": f["role_id"]}
        ),
        update=update,
    )


class UserResource(RecordResource):
    model = User
    serializer = UserSerializer
    record_fields = (
        "id",
        "name",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "source",
        "last_login_date",
        "created_date",
    )
    related_names = (APP_ROLES, LOOKUPS)

    def queryset(self) -> Any:
        return User.objects.filter(is_staff=False)

    def get(self, pk: Any) -> Any:
        try:
            return super().get(pk)
        except NotFound:
            if str(pk).isdigit() and User.objects.filter(pk=int(pk), is_staff=True).exists():
                raise Forbidden("Not allowed to change an admin user.") from None
            raise

    def to_record(self, obj: User, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record["name"] = obj.display_name
        if APP_ROLES in related:
            record[APP_ROLES] = [
                {"id": a.pk, "user_id": a.user_id, "app_id": a.app_id, "role_id": a.role_id}
                for a in obj.app_roles.order_by("id")
            ]
        if LOOKUPS in related:
            record[LOOKUPS] = related_lookups("user_id", obj.pk)
        return record

    def prepare(self, record: dict[str, Any], instance: User | None) -> dict[str, Any]:
        """Check and hash the password here, outside the write transaction (hashing takes
        a third of a second on purpose)."""
        password = record.get("password")
        if password is None or isinstance(password, _Hashed):
            return record
        probe = User(
            email=str(record.get("email") or (instance.email if instance else "")),
            first_name=str(record.get("first_name") or (instance.first_name if instance else "")),
            last_name=str(record.get("last_name") or (instance.last_name if instance else "")),
        )
        try:
            validate_password(str(password), probe)
        except ValidationError as exc:
            raise BadRequest("Password not accepted: " + " ".join(exc.messages)) from None
        return {**record, "password": _Hashed(make_password(str(password)))}

    def write(self, record: dict[str, Any], instance: User | None, request: Request) -> User:
        fields = self.writable(record)
        if instance is None and "email" not in fields:
            raise BadRequest("A user needs an email.")
        if isinstance(fields.get("email"), str):  # stored lower-case: compare it that way
            fields["email"] = fields["email"].strip().lower()
        user: User = self.validated(fields, instance)
        password = self.prepare(record, instance).get("password")
        if password is not None:
            user.password = str(password)  # hashed by prepare(), before the transaction
        elif instance is None:
            user.set_unusable_password()  # no login until an admin sets a password
        save_user(user)  # a concurrent request taking the same email: 400, not 500
        items = nested_list(record, APP_ROLES)
        if items is not None:
            save_app_roles(user, items)
        lookups = nested_list(record, LOOKUPS)
        if lookups is not None:
            save_related_lookups("user_id", user.pk, LOOKUPS, lookups)
        return user


user_collection, user_detail = views_for(UserResource(), "User")
