"""Lookup records for the system API (spec §7.6, §9.2): one validation for `system/lookup`
and the related lists `lookup_by_role_id`, `lookup_by_user_id` and `lookup_by_app_id`."""

from __future__ import annotations

from typing import Any

from django.db import models

from core.errors import BadRequest
from core.system_records import apply_nested
from lookups.models import NO_OWNER, Lookup
from lookups.text import NAME

FIELDS = ("name", "value", "private", "description")
MASK = "**********"  # what a private lookup's value reads as


def lookup_record(lookup: Lookup, owner: str | None = None) -> dict[str, Any]:
    """`{id, [owner]_id, name, value, private, description}`; a private lookup's value is
    masked, as a service password is (spec §9.3)."""
    record: dict[str, Any] = {"id": lookup.pk}
    if owner is not None:
        record[owner] = getattr(lookup, owner)
    record.update(
        {
            "name": lookup.name,
            "value": MASK if lookup.private else lookup.value,
            "private": lookup.private,
            "description": lookup.description,
        }
    )
    return record


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise BadRequest(f"'{key}' must be a string.")
    return str(value)


def lookup_fields(
    item: dict[str, Any], current: Lookup | None, siblings: models.QuerySet[Lookup]
) -> dict[str, Any]:
    """Validated model fields for one lookup; `siblings` are the lookups sharing its owner
    (a name is unique among them). 400s say what to fix."""
    fields: dict[str, Any] = {}
    if "name" in item or current is None:
        name = item.get("name")
        if not isinstance(name, str) or not NAME.match(name.strip()):
            raise BadRequest(
                "A lookup needs a 'name' of letters, digits and _ (at most 64, not starting "
                "with a digit); it is used as {name}."
            )
        name = name.strip()
        others = siblings.exclude(pk=current.pk) if current is not None else siblings
        if others.filter(name=name).exists():
            raise BadRequest(f"A lookup named '{name}' already exists here.")
        fields["name"] = name
    if ("value" in item and item["value"] != MASK) or current is None:
        fields["value"] = _text(item, "value")  # the mask sent back keeps the stored value
    if "private" in item or current is None:
        private = item.get("private", False)
        if not isinstance(private, bool):
            raise BadRequest("'private' must be true or false.")
        fields["private"] = private
    if "description" in item or current is None:
        fields["description"] = _text(item, "description")
    return fields


def system_lookups() -> models.QuerySet[Lookup]:
    return Lookup.objects.filter(NO_OWNER)


def related_lookups(owner: str, owner_id: int) -> list[dict[str, Any]]:
    """The related list of one role, user or app (`owner` is `role_id`, `user_id`, `app_id`)."""
    rows = Lookup.objects.filter(**{owner: owner_id}).order_by("id")
    return [lookup_record(row, owner) for row in rows]


def save_related_lookups(owner: str, owner_id: int, key: str, items: list[dict[str, Any]]) -> None:
    """Apply a nested lookup list (spec §9.1): update by id, remove with `"<owner>": null`,
    add the rest; lookups not mentioned stay."""
    children = Lookup.objects.filter(**{owner: owner_id})

    def create(fields: dict[str, Any]) -> None:
        Lookup.objects.create(**{owner: owner_id}, **fields)

    apply_nested(
        items,
        key=key,
        what="Lookup",
        children=children,
        fk=owner,
        fields_for=lambda item, current: lookup_fields(item, current, children),
        create=create,
        update=lambda lookup: lookup.save(),
    )
