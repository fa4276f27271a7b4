"""Stages 2 and 4: who is calling (Principal) and what they may do here (Grant).

Admins bypass roles (spec §8.2). Apps, API keys and roles arrive with issue #3: they slot in
as further branches of `authenticate` and a role lookup in `authorize`; until then every
non-admin caller is refused with the spec's §7.5 messages (401 per our policy table).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.credentials import Credentials
from gateway.errors import Forbidden, NotAuthenticated
from rbac.sessions import Session, verify_token

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


@dataclass(frozen=True, slots=True)
class Principal:
    session: Session | None
    api_key: str | None

    @property
    def is_admin(self) -> bool:
        return self.session is not None and self.session.user.is_admin


@dataclass(frozen=True, slots=True)
class Grant:
    """What the caller may do on one (service, component): the verbs and the row filters."""

    verbs: int
    row_filters: tuple[object, ...] = ()


FULL_ACCESS = Grant(verbs=31)


def authenticate(creds: Credentials) -> Principal:
    """Verify the token (bad tokens fail first, spec §7.4); absent credentials are data."""
    session = verify_token(creds.session_token) if creds.session_token else None
    return Principal(session=session, api_key=creds.api_key)


def require_credentials(principal: Principal) -> None:
    """Refuse callers who cannot reach any service, before the service is even looked up
    (so unknown service names cannot be probed; spec §7.5)."""
    if principal.is_admin:
        return
    if principal.session is None and principal.api_key is None:
        raise NotAuthenticated(NO_CREDENTIALS)
    if principal.api_key is None:
        raise NotAuthenticated(NO_API_KEY)
    if principal.session is None:
        raise NotAuthenticated(MISSING_JWT)
    raise Forbidden(NO_ROLE)


def authorize(principal: Principal, service: str, component: str, verb: str) -> Grant:
    """Admins get everything; other callers get the spec's most specific refusal."""
    require_credentials(principal)
    return FULL_ACCESS
