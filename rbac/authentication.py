"""DRF authentication for the system API: the same session tokens as the data API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from core.context import current as current_context
from core.credentials import extract_credentials
from rbac.policy import authenticate
from rbac.sessions import Session


class SessionTokenAuthentication(BaseAuthentication):
    """A valid token authenticates; a bad token is a 401; no token is "not mine" (None)."""

    def authenticate(self, request: Request) -> tuple[Any, Session] | None:
        creds = extract_credentials(request._request)
        if not creds.session_token:
            return None
        principal = authenticate(creds)  # the one authentication stage, as the data API's
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
