"""The database identity of a request on a service with `use_db_roles` (issue #3, item 5).

A non-admin call runs as its role's `db_role`, with PostgREST-style claims in
`request.jwt.claims`; admins bypass roles here too and run as the service's own user. A role
without a database role is refused on such a service (fail closed), never run as the service.
"""

from __future__ import annotations

import orjson

from core.errors import Forbidden
from rbac.policy import Grant, Principal
from services.config import ServiceConfig
from services.db.db_identity import DbIdentity


def claims_for(principal: Principal, db_role: str) -> dict[str, object]:
    """What a policy can read: current_setting('request.jwt.claims', true)::json ->> 'user_id'."""
    # a provider's bearer token (rbac.external_tokens.ExternalSession): its own claims first,
    # as PostgREST does; the gateway's keys below win
    claims: dict[str, object] = {**getattr(principal.session, "claims", {}), "role": db_role}
    if principal.role is not None:
        claims.update({"role_id": principal.role.id, "role_name": principal.role.name})
    if principal.app is not None:
        claims["app_id"] = principal.app.id
    session = principal.session
    if session is not None:
        claims.update(
            {
                "user_id": session.user.id,
                "email": session.user.email,
                "jti": session.jti,
                "exp": session.exp,
            }
        )
    return claims


def identity_for(
    principal: Principal, grant: Grant, config: ServiceConfig, verb: str, path: str
) -> DbIdentity | None:
    """The identity to run as, or None to run as the service's database user."""
    if not config.use_db_roles or grant.is_admin or principal.role is None:
        return None
    db_role = principal.role.db_role
    if not db_role:
        raise Forbidden(
            f"Role '{principal.role.name}' has no database role, and service '{config.name}' "
            "runs every request under a database role. An admin must set the role's db_role.",
        )
    claims = orjson.dumps(claims_for(principal, db_role)).decode()
    return DbIdentity(role=db_role, claims=claims, method=verb, path=path)
