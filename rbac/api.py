"""System API: the admin session (`/api/v2/system/admin/session`, spec §7.2-7.3)."""

from __future__ import annotations

import socket
from typing import Any

from django.contrib.auth import authenticate
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway.errors import BadRequest, NotAuthenticated, NotFound
from rbac.sessions import issue_token

_FORMAT = "%Y-%m-%d %H:%M:%S"


def session_info(user: Any, token: str | None = None, expiry: Any = None) -> dict[str, Any]:
    """The public session object of spec §7.2."""
    info: dict[str, Any] = {
        "id": user.pk,
        "name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_sys_admin": user.is_staff,
        "last_login_date": user.last_login_date.strftime(_FORMAT) if user.last_login_date else None,
        "host": socket.gethostname(),
    }
    if token is not None:
        info = {"session_token": token, "session_id": token, **info}
        info["token_expiry_date"] = expiry.strftime(_FORMAT)
    return info


class AdminSessionView(APIView):
    """POST logs an admin in (any supplied token is ignored); GET describes the session."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=inline_serializer(
            "AdminLogin", {"email": serializers.EmailField(), "password": serializers.CharField()}
        ),
        responses={200: dict},
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        email = str(data.get("email") or "").strip().lower()
        password = data.get("password")
        if not email:
            raise BadRequest("Login request is missing required email.")
        if not password:
            raise BadRequest("Login request is missing required password.")
        user = authenticate(request._request, username=email, password=str(password))
        if user is None or not user.is_active or not user.is_staff:
            raise NotAuthenticated("Invalid credentials supplied.")
        user.last_login_date = timezone.now()
        type(user).objects.filter(pk=user.pk).update(last_login_date=user.last_login_date)
        token, expiry = issue_token(user, issuer=request.build_absolute_uri())
        return Response(session_info(user, token, expiry))

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        from gateway.credentials import extract_credentials
        from rbac.models import User
        from rbac.sessions import verify_token

        creds = extract_credentials(request._request)
        if not creds.session_token:
            raise NotFound("No user session found.")
        session = verify_token(creds.session_token)
        if not session.user.is_admin:
            raise NotAuthenticated("You are not authorized to perform this action.")
        return Response(session_info(User.objects.get(pk=session.user.id)))
