"""External bearer tokens (issue #15, item 1): a JWT that is not the gateway's own and whose
`iss` is an active OIDC provider with `accept_bearer_tokens` is verified against that provider's
JWKS (rbac.oidc_login.verify_jwt: signature, iss, aud = `audience` or client_id, exp, nbf; an
unknown kid refetches the JWKS once) and acts as a session of the gateway user with its email.

The role is `sso_users.mapped_role` for the calling app (or the provider's default role without
one). Nothing is written per request, and the providers, roles and users it needs are kept in
process until the metadata stamp moves. Such a session is never an admin's. Only called after
the gateway's own verification failed, so the hot path is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from apikeys.lookup import AppSnapshot, resolve
from core.credentials import Credentials
from core.metadata import stamp
from rbac import catalog, oidc_login
from rbac.catalog import RoleSnapshot
from rbac.models import OidcProvider
from rbac.sessions import BoundedCache, Session, UserSnapshot, user_snapshot
from rbac.sso_users import mapped_role

NO_USER_ID = 0  # the user id of a token whose email has no gateway user


@dataclass(frozen=True, slots=True)
class ExternalSession(Session):
    """A session proved by a provider's token; `claims` are the token's own (they become
    `request.jwt.claims` on services with database roles)."""

    claims: dict[str, Any] = field(default_factory=dict)
    provider: str = ""


class _Cache(BoundedCache):
    """Bearer-token providers by issuer, roles by (provider, groups, app), users by email."""

    def __init__(self) -> None:
        super().__init__()
        self.providers: dict[str, OidcProvider] | None = None
        self.roles: dict[tuple[int, tuple[str, ...], int | None], int | None] = {}
        self.users: dict[str, UserSnapshot | None] = {}

    def clear(self) -> None:
        with self.lock:
            self.providers = None
            self.roles.clear()
            self.users.clear()


_cache = _Cache()
stamp.on_change(_cache.clear)


def clear_cache() -> None:
    _cache.clear()


def _providers() -> dict[str, OidcProvider]:
    providers = _cache.providers
    if providers is None:
        found = OidcProvider.objects.filter(
            accept_bearer_tokens=True, service__is_active=True
        ).select_related("default_role")
        providers = {oidc_login.issuer_of(p): p for p in found}
        with _cache.lock:
            _cache.providers = providers
    return providers


def _issuer(token: str) -> str:
    """The unverified `iss` of a JWT ("" when it is not a JWT with one)."""
    try:
        claims = json.loads(jws.extract_compact(token.encode()).payload)
    except (JoseError, ValueError, TypeError):
        return ""
    iss = claims.get("iss") if isinstance(claims, dict) else None
    return iss.rstrip("/") if isinstance(iss, str) else ""


def _role_id(provider: OidcProvider, groups: list[str], app: AppSnapshot | None) -> int | None:
    key = (int(provider.service_id), tuple(sorted(groups)), app.id if app else None)
    if key in _cache.roles:
        return _cache.roles[key]
    role = mapped_role(provider, groups, app)
    return _cache.put(_cache.roles, key, role.pk if role is not None else None)


def _user(email: str) -> UserSnapshot:
    """The gateway user with this email (never as an admin), or a stand-in with id 0."""
    key = email.lower()
    if key in _cache.users:
        known = _cache.users[key]
    else:
        found = user_snapshot(email__iexact=key, is_active=True)
        known = _cache.put(_cache.users, key, replace(found, is_admin=False) if found else None)
    return known or UserSnapshot(NO_USER_ID, key, True, False)


def authenticate(
    creds: Credentials,
) -> tuple[ExternalSession, AppSnapshot | None, RoleSnapshot | None] | None:
    """The session, app and role for a provider's bearer token; None when the token does not
    name a provider that accepts bearer tokens (the caller keeps its own 401); 401 when it
    names one and does not verify; 503 when that provider cannot be reached."""
    token = creds.session_token
    if not token:
        return None
    issuer = _issuer(token)
    provider = _providers().get(issuer) if issuer else None
    if provider is None:
        return None
    claims = oidc_login.verify_jwt(
        provider, token, audience=provider.audience or provider.client_id, what="token"
    )
    identity = oidc_login.identity(provider, claims)
    app = resolve(creds.api_key) if creds.api_key else None
    unknown_key = creds.api_key is not None and app is None  # refused as for gateway tokens
    role = None if unknown_key else catalog.role(_role_id(provider, identity.groups, app))
    user = _user(identity.email) if identity.email else UserSnapshot(NO_USER_ID, "", True, False)
    session = ExternalSession(
        user=user,
        jti=str(claims.get("jti") or ""),
        exp=int(claims["exp"]),
        token=token,
        claims=claims,
        provider=provider.name,
    )
    return session, app, role
