"""Stages 2 and 4: who is calling (Principal) and what they may do here (Grant).

The effective role (spec §8.2): an admin session bypasses roles; a user calling through an app
gets their role for that app (else any role they have for another app, else the app's default
role); an app alone gets its default role; a user without an app gets none. Refusals carry the
spec's §7.5 messages, with 401 where DF answers 400 for missing credentials (policy table).
Everything here reads in-process snapshots: no metadata query per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apikeys.lookup import AppSnapshot, resolve
from core.credentials import Credentials
from core.errors import Forbidden, GatewayError, NotAuthenticated
from core.metadata import stamp
from core.verbs import ALL_VERBS, VERB_BITS
from lookups.snapshot import CallerValues
from rbac import catalog, external_tokens
from rbac.catalog import RoleSnapshot
from rbac.row_filters import combine_groups
from rbac.rules import decide, mask_for, normalize_component
from rbac.sessions import Session, UserSnapshot, verify_token
from services.plan.filter_ast import Node

NO_CREDENTIALS = (
    "No session token (JWT) or API Key detected in request. Please send in "
    "X-DreamFactory-Session-Token and/or X-DreamFactory-API-Key request header. You can also "
    "use URL query parameters session_token and/or api_key."
)
NO_API_KEY = (
    "No API Key provided. Please provide a valid API Key using X-DreamFactory-API-Key request "
    "header or 'api_key' url query parameter."
)
MISSING_JWT = (
    "No session token (JWT) provided. Please provide a valid JWT using "
    "X-DreamFactory-Session-Token request header or 'session_token' url query parameter."
)
NO_ROLE = "Role not found. A role may not be assigned to you or your application."
ROLE_INACTIVE = (
    "Access Forbidden. The role assigned to you or your application or the default role of "
    "your application is not active."
)
NOT_AUTHENTICATED = "Unauthorized. User is not authenticated."
UNKNOWN_KEY = "The API key is not recognised, or its app is inactive."


@dataclass(frozen=True, slots=True)
class Principal:
    session: Session | None
    app: AppSnapshot | None
    api_key_given: bool
    role: RoleSnapshot | None = None

    @property
    def is_admin(self) -> bool:
        return self.session is not None and self.session.user.is_admin

    @property
    def user(self) -> UserSnapshot | None:
        return self.session.user if self.session is not None else None


def authenticate(creds: Credentials) -> Principal:
    """Verify the token (bad tokens fail first, spec §7.4), find the app and the role."""
    stamp.poll()  # picks up changed apps, roles and revoked tokens
    try:
        session = verify_token(creds.session_token) if creds.session_token else None
    except NotAuthenticated:
        external = external_tokens.authenticate(creds)  # an OIDC provider's own JWT (#15)
        if external is None:
            raise
        session, app, role = external
        return Principal(session, app, creds.api_key is not None, role)
    app = resolve(creds.api_key) if creds.api_key else None
    principal = Principal(session=session, app=app, api_key_given=creds.api_key is not None)
    if principal.is_admin or app is None:
        return principal
    user_id = session.user.id if session is not None else None
    return Principal(session, app, True, effective_role(user_id, app))


def effective_role(user_id: int | None, app: AppSnapshot) -> RoleSnapshot | None:
    """The role a (user, app) pair acts with: the user's role for the app, else the app's
    default role (spec §8.2). Logins use it too, to answer the role a session will have."""
    return catalog.role(catalog.effective_role_id(user_id, app.id, app.role_id))


def reaches(principal: Principal, service_id: int) -> bool:
    """Whether any rule of the caller's role grants anything on the service (the service
    directory lists only those)."""
    if principal.is_admin:
        return True
    role = principal.role
    if role is None or not role.is_active:
        return False
    return any(r.verbs and r.service_id in (None, service_id) for r in role.rules)


def require_credentials(principal: Principal) -> None:
    """Refuse callers who cannot reach any service, before the service is even looked up
    (so unknown service names cannot be probed; spec §7.5)."""
    if principal.is_admin:
        return
    if principal.session is None and not principal.api_key_given:
        raise NotAuthenticated(NO_CREDENTIALS)
    if principal.role is None:
        unknown = (
            {"api_key": UNKNOWN_KEY} if principal.api_key_given and not principal.app else None
        )
        if principal.app is None and principal.session is not None:
            raise NotAuthenticated(NO_API_KEY, context=unknown)
        if principal.session is None:
            raise NotAuthenticated(MISSING_JWT, context=unknown)
        raise Forbidden(NO_ROLE)
    if not principal.role.is_active:
        raise Forbidden(ROLE_INACTIVE)


def lookups_for(principal: Principal) -> Mapping[str, Any]:
    """Values for `{lookup}` tokens (spec §7.6): the built-in `user.*`, `role.*`, `app.*`,
    then the admin's non-private lookups (system < app < role < user), read on first use."""
    values: dict[str, Any] = {}
    user = principal.user
    if user is not None:
        values.update(
            {
                "user.id": user.id,
                "user.email": user.email,
                "user.username": user.email,  # users log in by email (login_attribute)
                "user.ldap_username": "",
                "user.name": user.display_name,
                "user.display_name": user.display_name,
                "user.first_name": user.first_name,
                "user.last_name": user.last_name,
                "user.is_sys_admin": user.is_admin,
            }
        )
    if principal.role is not None:
        values.update({"role.id": principal.role.id, "role.name": principal.role.name})
    if principal.app is not None:
        values["app.id"] = principal.app.id
    if principal.session is not None and principal.session.token:
        values["session.token"] = values["session.id"] = principal.session.token
    role, app = principal.role, principal.app
    return CallerValues(
        values,
        app.id if app is not None else None,
        role.id if role is not None else None,
        user.id if user is not None else None,
    )


class RoleScope:
    """A non-admin principal's rules on one service: answers for any component of it."""

    __slots__ = ("_lookups", "principal", "service_id", "service_name")

    def __init__(self, principal: Principal, service_id: int | None, service_name: str) -> None:
        self.principal = principal
        self.service_id = service_id
        self.service_name = service_name
        self._lookups: Mapping[str, Any] | None = None

    @property
    def role(self) -> RoleSnapshot:
        role = self.principal.role
        if role is None:  # require_credentials refuses such callers before any scope exists
            raise Forbidden(NO_ROLE)
        return role

    def mask(self, component: str) -> int:
        return mask_for(self.role.rules, self.service_id, normalize_component(component))

    def check(self, component: str, verb: str) -> Grant:
        """The grant for one call, or the spec's refusal (401 without a user, else 403)."""
        component = normalize_component(component)
        bit = VERB_BITS.get(verb, 0)
        mask, groups = decide(self.role.rules, self.service_id, component, bit)
        if not mask & bit:
            raise self.denial(component, verb)
        row_filter = None
        if groups:
            if self._lookups is None and any(g.has_lookups for g in groups):
                self._lookups = lookups_for(self.principal)
            row_filter = combine_groups(groups, self._lookups or {})
        return Grant(verbs=mask, row_filter=row_filter, scope=self)

    def denial(self, component: str, verb: str) -> GatewayError:
        context = {"service": self.service_name, "component": component, "verb": verb}
        if self.principal.session is None:
            context["reason"] = (
                "the app's default role does not allow this call; log in as a user whose role does"
            )
            return NotAuthenticated(NOT_AUTHENTICATED, context=context)
        where = f"component '{component}' of service" if component else "service"
        return Forbidden(
            f"Access Forbidden. {verb} access to {where} '{self.service_name}' is not allowed "
            "by this user's role.",
            context=context,
        )


@dataclass(frozen=True, slots=True)
class Grant:
    """What the caller may do on one (service, component): the verbs and the row filter."""

    verbs: int
    row_filter: Node | None = None  # unbound (its field names are checked when it is bound)
    scope: RoleScope | None = None  # None: an admin, who may do everything

    @property
    def is_admin(self) -> bool:
        return self.scope is None

    def mask(self, component: str) -> int:
        """The verbs allowed on another component of the same service."""
        return ALL_VERBS if self.scope is None else self.scope.mask(component)

    def check(self, component: str, verb: str) -> Grant:
        """The grant for another component of the same service, or its refusal."""
        return self if self.scope is None else self.scope.check(component, verb)


FULL_ACCESS = Grant(verbs=ALL_VERBS)


def authorize(
    principal: Principal, service_id: int | None, service_name: str, component: str, verb: str
) -> Grant:
    """Admins get everything; other callers get their role's grant or the spec's refusal."""
    require_credentials(principal)
    if principal.is_admin:
        return FULL_ACCESS
    return RoleScope(principal, service_id, service_name).check(component, verb)
