"""System API for roles and their access rules: `/api/v2/system/role` (spec §8.1, §9.2).

A role record may carry its rules as the related list `role_service_access_by_role_id`; on a
write, items with an `id` are updated (or removed with `"role_id": null`), items without one
are added, rules not mentioned are kept.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from core.errors import BadRequest
from core.system_records import (
    RecordResource,
    apply_nested,
    nested_list,
    record_id,
    views_for,
)
from core.verbs import ALL_VERBS, mask_of
from lookups.records import related_lookups, save_related_lookups
from rbac.models import Role, RoleServiceAccess
from rbac.row_filters import check_rule
from services.models import Service

RULES = "role_service_access_by_role_id"
LOOKUPS = "lookup_by_role_id"
DB_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ("name", "description", "is_active", "db_role")

    def validate_db_role(self, value: str) -> str:
        if value and not DB_ROLE.match(value):
            raise serializers.ValidationError(
                "A PostgreSQL role name: letters, digits, _ and $, starting with a letter or _."
            )
        return value


def _verb_mask(value: Any) -> int:
    """An integer mask (the wire format), or a list of verb names for convenience."""
    if isinstance(value, list):
        try:
            return mask_of(value)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= ALL_VERBS:
        raise BadRequest("verb_mask must be an integer from 0 to 31 (GET=1 POST=2 PUT=4 ...).")
    return value


def rule_fields(item: dict[str, Any], current: RoleServiceAccess | None) -> dict[str, Any]:
    """Validated model fields for one access rule (400 naming what to fix)."""
    fields: dict[str, Any] = {}
    if "service_id" in item or current is None:
        service_id = item.get("service_id")
        if service_id is not None:
            service_id = record_id(service_id, "service_id")
        databases = Service.objects.databases()
        if service_id is not None and not databases.filter(pk=service_id).exists():
            raise BadRequest(f"Service with id '{service_id}' does not exist.")
        fields["service_id"] = service_id
    if "component" in item or current is None:
        component = item.get("component", "*")
        if not isinstance(component, str) or len(component) > 255:
            raise BadRequest("component must be a string such as '*', '_table/*' or '_table/t'.")
        fields["component"] = component.strip()
    if "verb_mask" in item or current is None:
        fields["verb_mask"] = _verb_mask(item.get("verb_mask", 1))
    if "requestor_mask" in item or current is None:
        requestor = item.get("requestor_mask", 1)
        if requestor not in (1, 2, 3):
            raise BadRequest("requestor_mask must be 1 (API), 2 (SCRIPT) or 3 (both).")
        fields["requestor_mask"] = requestor
    if "filters" in item or current is None:
        fields["filters"] = item.get("filters") or []
    if "filter_op" in item or current is None:
        fields["filter_op"] = item.get("filter_op") or "AND"
    fields["filter_op"] = str(
        fields.get("filter_op", current.filter_op if current else "AND") or "AND"
    ).upper()
    check_rule(
        fields.get("service_id", current.service_id if current else None),
        fields.get("component", current.component if current else "*"),
        fields.get("filters", current.filters if current else []),
        fields["filter_op"],
    )
    return fields


def save_rules(role: Role, items: list[dict[str, Any]]) -> None:
    """Apply a nested rule list: update by id, detach with role_id null, add the rest."""
    apply_nested(
        items,
        key=RULES,
        what="Access rule",
        children=role.accesses.all(),
        fk="role_id",
        fields_for=rule_fields,
        create=lambda fields: RoleServiceAccess.objects.create(role=role, **fields),
        update=lambda rule: rule.save(),
    )


def rule_record(rule: RoleServiceAccess) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "role_id": rule.role_id,
        "service_id": rule.service_id,
        "component": rule.component,
        "verb_mask": rule.verb_mask,
        "requestor_mask": rule.requestor_mask,
        "filters": rule.filters,
        "filter_op": rule.filter_op,
    }


class RoleResource(RecordResource):
    model = Role
    serializer = RoleSerializer
    record_fields = (
        "id",
        "name",
        "description",
        "is_active",
        "db_role",
        "created_date",
        "last_modified_date",
    )
    related_names = (RULES, LOOKUPS)

    def to_record(self, obj: Role, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        if RULES in related:
            record[RULES] = [rule_record(r) for r in obj.accesses.order_by("id")]
        if LOOKUPS in related:
            record[LOOKUPS] = related_lookups("role_id", obj.pk)
        return record

    def write(self, record: dict[str, Any], instance: Role | None, request: Request) -> Role:
        role: Role = self.validated(self.writable(record), instance)
        role.save()
        items = nested_list(record, RULES)
        if items is not None:
            save_rules(role, items)
        lookups = nested_list(record, LOOKUPS)
        if lookups is not None:
            save_related_lookups("role_id", role.pk, LOOKUPS, lookups)
        return role


role_collection, role_detail = views_for(RoleResource(), "Role")
