"""Roles with their access rules, and users' per-app roles, as in-process snapshots.

Loaded from the metadata DB on first use and dropped whenever the metadata version moves
(services/registry.py), so a request never queries the metadata DB for them. Stored row
filters are parsed here, once per load; a rule whose filters no longer parse grants nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import GatewayError
from rbac.models import Role, RoleServiceAccess, UserAppRole
from rbac.row_filters import parse_filters
from rbac.rules import AccessRule, RowFilterGroup, normalize_component
from rbac.system_rules import SYSTEM_SERVICE, system_component

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoleSnapshot:
    id: int
    name: str
    is_active: bool
    db_role: str
    rules: tuple[AccessRule, ...]


def rule_from_row(row: Mapping[str, Any]) -> AccessRule:
    """One stored rule; filters that no longer parse make it grant nothing (fail closed)."""
    verbs = int(row["verb_mask"])
    filters: RowFilterGroup | None = None
    try:
        filters = parse_filters(row["filters"], row["filter_op"])
    except GatewayError as exc:
        log.warning("access rule %s ignored: %s", row["id"], exc.message)
        verbs = 0
    service_id, component = row["service_id"], normalize_component(row["component"] or "")
    inside = system_component(component) if service_id is None else None
    if inside is not None:  # a rule for the system API (rbac/system_rules.py)
        service_id, component = SYSTEM_SERVICE, inside
    return AccessRule(
        service_id=service_id,
        component=component,
        verbs=verbs,
        requestors=int(row["requestor_mask"]),
        filters=filters,
    )


class _Catalog:
    MAX_USERS = 50_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.roles: dict[int, RoleSnapshot] | None = None
        self.user_roles: dict[int, tuple[tuple[int, int], ...]] = {}

    def clear(self) -> None:
        with self.lock:
            self.roles = None
            self.user_roles = {}

    def all_roles(self) -> dict[int, RoleSnapshot]:
        loaded = self.roles
        if loaded is not None:
            return loaded
        with self.lock:
            if self.roles is None:
                rules: dict[int, list[AccessRule]] = {}
                for row in RoleServiceAccess.objects.order_by("id").values(
                    "id",
                    "role_id",
                    "service_id",
                    "component",
                    "verb_mask",
                    "requestor_mask",
                    "filters",
                    "filter_op",
                ):
                    rules.setdefault(row["role_id"], []).append(rule_from_row(row))
                self.roles = {
                    r["id"]: RoleSnapshot(
                        r["id"],
                        r["name"],
                        r["is_active"],
                        r["db_role"],
                        tuple(rules.get(r["id"], ())),
                    )
                    for r in Role.objects.values("id", "name", "is_active", "db_role")
                }
            return self.roles

    def app_roles_of(self, user_id: int) -> tuple[tuple[int, int], ...]:
        """(app_id, role_id) pairs assigned to a user, oldest assignment first."""
        cached = self.user_roles.get(user_id)
        if cached is not None:
            return cached
        pairs = tuple(
            UserAppRole.objects.filter(user_id=user_id)
            .order_by("id")
            .values_list("app_id", "role_id")
        )
        with self.lock:
            if len(self.user_roles) >= self.MAX_USERS:
                self.user_roles = {}
            self.user_roles[user_id] = pairs
        return pairs


catalog = _Catalog()


def clear_cache() -> None:
    catalog.clear()


def role(role_id: int | None) -> RoleSnapshot | None:
    if role_id is None:
        return None
    return catalog.all_roles().get(role_id)


def effective_role_id(
    user_id: int | None, app_id: int | None, app_role_id: int | None
) -> int | None:
    """Spec §8.2: the user's role for this app; else any role the user has for another app
    (DF's fallback); else the app's default role. Without an app there is no role."""
    if app_id is None:
        return None
    if user_id is not None:
        pairs = catalog.app_roles_of(user_id)
        for assigned_app, assigned_role in pairs:
            if assigned_app == app_id:
                return assigned_role
        if pairs:
            return pairs[0][1]
    return app_role_id
