"""DRF authentication for the system API: the same session tokens as the data API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.context import current as current_context
from core.credentials import extract_credentials
from core.errors import Forbidden, NotAuthenticated
from rbac.policy import NO_CREDENTIALS, authenticate
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


class IsGatewayAdmin(BasePermission):
    """System API calls need an admin session (roles for system components come later)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        session = request.auth
        if session is None:
            raise NotAuthenticated(NO_CREDENTIALS)
        if not session.user.is_admin:
            raise Forbidden("You are not authorized to perform this action.")
        return True


class SessionTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular: untyped
    """Describes SessionTokenAuthentication in the system API's OpenAPI document."""

    target_class = "rbac.authentication.SessionTokenAuthentication"
    name = "SessionToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-DreamFactory-Session-Token"}
