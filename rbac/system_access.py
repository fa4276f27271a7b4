"""Who may call the system API (spec §9): admins, and callers whose role grants the system
component asked for (rbac/system_rules.py says how a rule names it).

A caller whose role grants nothing on the system API is refused as before any role could
(401 without a session, else 403); one whose role grants other system components or verbs
gets the data API's refusal (spec §7.5). `system/admin` stays admin-only.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.context import current as current_context
from core.credentials import extract_credentials
from core.errors import Forbidden, NotAuthenticated
from core.records import REACHABLE_SERVICES
from core.verbs import VERB_BITS
from rbac.catalog import RoleSnapshot
from rbac.policy import NO_CREDENTIALS, Principal, RoleScope, authenticate
from rbac.rules import AccessRule, mask_for, normalize_component
from rbac.system_rules import ADMIN_ONLY, SYSTEM, SYSTEM_SERVICE

NOT_AUTHORIZED = "You are not authorized to perform this action."
_PATH = re.compile(r"^/api/v2/system(?:/(?P<component>.*))?$")


def system_rules(role: RoleSnapshot | None) -> tuple[AccessRule, ...]:
    """The active role's rules for the system API (none for an inactive role)."""
    if role is None or not role.is_active:
        return ()
    return tuple(r for r in role.rules if r.service_id == SYSTEM_SERVICE)


def reachable_services(role: RoleSnapshot | None) -> frozenset[int] | None:
    """The ids of the data services a role's rules reach (None: every service), for the
    system resources that list services (spec §9.2: non-admins see only those)."""
    if role is None:
        return frozenset()
    data_rules = [r for r in role.rules if r.service_id != SYSTEM_SERVICE and r.verbs]
    if any(r.service_id is None for r in data_rules):
        return None
    return frozenset(r.service_id for r in data_rules if r.service_id is not None)


def component_of(path: str) -> str | None:
    """`/api/v2/system/role/5` -> `role/5`; None for a path no role may be granted."""
    match = _PATH.match(path)
    if match is None:
        return None
    component = normalize_component(match.group("component") or "")
    if component.split("/", 1)[0] in ADMIN_ONLY:
        return None
    return component


def _refusal(principal: Principal) -> Exception:
    if principal.session is None:
        return NotAuthenticated(NO_CREDENTIALS)
    return Forbidden(NOT_AUTHORIZED)


class SystemAccess(BasePermission):
    """DRF permission of the system API: admin sessions, or a role's grant on `system/...`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        session = request.auth
        if session is not None and session.user.is_admin:
            return True
        creds = extract_credentials(request._request)
        if creds.session_token is None and creds.api_key is None:
            raise NotAuthenticated(NO_CREDENTIALS)
        principal = authenticate(creds)  # cached snapshots: no metadata query
        context = current_context()
        if context is not None:
            context.note_principal(principal)
        if principal.is_admin:
            return True
        rules = system_rules(principal.role)
        component = component_of(request.path)
        if not rules or component is None:
            raise _refusal(principal)
        verb = "GET" if request.method == "HEAD" else str(request.method)
        if mask_for(rules, SYSTEM_SERVICE, component) & VERB_BITS.get(verb, 0):
            setattr(request._request, REACHABLE_SERVICES, reachable_services(principal.role))
            return True
        raise RoleScope(principal, SYSTEM_SERVICE, SYSTEM).denial(component, verb)
