"""DRF authentication for the system API: the same session tokens as the data API. An OIDC
provider's own bearer token (rbac.external_tokens) is for the data API only: here it is a 401
that says how to get a gateway session instead."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from core.context import current as current_context
from core.credentials import extract_credentials
from core.errors import NotAuthenticated
from rbac.external_tokens import ExternalSession
from rbac.policy import authenticate
from rbac.sessions import Session


class SessionTokenAuthentication(BaseAuthentication):
    """A valid token authenticates; a bad token is a 401; no token is "not mine" (None)."""

    def authenticate(self, request: Request) -> tuple[Any, Session] | None:
        creds = extract_credentials(request._request)
        if not creds.session_token:
            return None
        principal = authenticate(creds)  # the one authentication stage, as the data API's
        if isinstance(principal.session, ExternalSession):
            raise NotAuthenticated(
                f"A token of provider '{principal.session.provider}' is accepted on the data API "
                "only; for the system and user APIs sign in with GET /api/v2/user/session?"
                f"service={principal.session.provider} and send the gateway's session token."
            )
        context = current_context()
        if context is not None:
            context.note_principal(principal)
        session = principal.session
        return (session.user, session) if session is not None else None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class SessionTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular: untyped
    """Describes SessionTokenAuthentication in the system API's OpenAPI document."""

    target_class = "rbac.authentication.SessionTokenAuthentication"
    name = "SessionToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-DreamFactory-Session-Token"}
