"""A record's values as the models store them: names of other records into their ids, verb
lists into masks, text trimmed; anything else a 400 naming the value."""

from __future__ import annotations

from typing import Any, cast

from django.db import models

from apikeys.models import App
from core.errors import BadRequest
from core.verbs import ALL_VERBS, mask_of
from rbac.models import Role
from services.models import DATABASE_TYPE, Service


def text(value: Any, what: str) -> str:
    """A non-empty string, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{what} must be a non-empty string.")
    return value.strip()


def mask(value: Any, what: str) -> int:
    """A verb mask: an integer 0-31 or a list of verb names."""
    if isinstance(value, list):
        try:
            return mask_of(value)
        except ValueError as exc:
            raise BadRequest(f"{what}: {exc}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ALL_VERBS:
        raise BadRequest(f"{what} must be an integer from 0 to 31 or a list of verbs.")
    return value


def ref(model: type[models.Model], field: str, value: Any, what: str, **scope: Any) -> int | None:
    """The id of the record the document names (in the document, already applied, or in this
    gateway); `null` names none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a name (a string) or null.")
    if field == "email":
        value = value.strip().lower()
    found = model._default_manager.filter(**{field: value}, **scope).values_list("pk", flat=True)
    pk = found.first()
    if pk is None:
        raise BadRequest(f"{what} '{value}' is neither in the file nor in this gateway.")
    return cast("int", pk)


def role_ref(value: Any, what: str = "role") -> int | None:
    """The id of the role named."""
    return ref(Role, "name", value, what)


def service_ref(value: Any, what: str = "service") -> int | None:
    """The id of the database service named."""
    return ref(Service, "name", value, f"{what} (a database service)", type=DATABASE_TYPE)


def listed(value: Any, what: str, of: str) -> list[Any]:
    """A list (of what `of` says)."""
    if not isinstance(value, list):
        raise BadRequest(f"{what} must be a list of {of}.")
    return value


def id_map(items: Any, what: str) -> list[dict[str, Any]]:
    """[{"group", "role": name}] -> [{"group", "role_id": id}], as rbac stores it."""
    mapped = []
    for i, item in enumerate(listed(items, what, '{"group": ..., "role": ...}')):
        if not isinstance(item, dict) or set(item) != {"group", "role"}:
            raise BadRequest(f'{what}[{i}] must be {{"group": <group>, "role": <role name>}}.')
        role_id = role_ref(item["role"], f"{what}[{i}].role")
        mapped.append({"group": item["group"], "role_id": role_id})
    return mapped


def app_id_map(value: Any) -> dict[str, Any]:
    """{app name: [...]} -> {"<app id>": [...]}."""
    if not isinstance(value, dict):
        raise BadRequest('config.app_role_map must be {"<app name>": [{"group", "role"}]}.')
    return {
        str(ref(App, "name", app, "config.app_role_map app")): id_map(
            items, f"config.app_role_map['{app}']"
        )
        for app, items in value.items()
    }
