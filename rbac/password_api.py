"""`user/password` and `system/admin/password` (DF's UserPasswordResource), POST only (PUT and
PATCH are aliases):

- logged in: `{"old_password", "new_password"}` changes the caller's password;
- `?reset=true` with `{"email"}` starts a reset: the user's security question when they set
  one (`{"security_question": ...}`), else a one-time code sent by email
  (rbac/password_reset.py) and `{"success": true}`; an unknown email answers the same, so
  the endpoint does not tell which accounts exist;
- `{"email", "code", "new_password"}` or `{"email", "security_answer", "new_password"}`
  finishes it.

`?login=true` answers a new `session_token` as well. The user service serves non-admins only,
the admin one admins only (401 otherwise, as DF). Wrong old passwords and security answers
count as failed logins (rbac/throttle.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.client import client_address
from core.credentials import extract_credentials
from core.errors import BadRequest, NotAuthenticated, NotFound
from core.flags import as_bool
from rbac import password_reset, throttle
from rbac.models import User
from rbac.sessions import issue_token, verify_token
from rbac.user_service import UserServiceView, body_of

NOT_ENOUGH = "Not enough information provided to change password."
NO_EMAIL = "Missing required email for password reset confirmation."


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string.")
    return value


class PasswordView(UserServiceView):
    for_admins: ClassVar[bool] = False
    resource_path = "user/password"

    def _allowed(self, user: User) -> None:
        if bool(user.is_staff) != self.for_admins:
            raise NotAuthenticated(
                f"You are not authorized to reset/change password for the account {user.email}"
            )

    def _set(self, request: Request, user: User, new: str) -> dict[str, Any]:
        """Validate and store `new`; the answer (with a new session when `login=true`)."""
        try:
            validate_password(new, user)
        except ValidationError as exc:
            raise BadRequest("Password not accepted: " + " ".join(exc.messages)) from None
        user.set_password(new)
        User.objects.filter(pk=user.pk).update(password=user.password)
        if not as_bool(request.query_params.get("login", "")):
            return {"success": True}
        token, _ = issue_token(user, issuer=request.build_absolute_uri())
        return {"success": True, "session_token": token}

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = body_of(request)
        old, new = _text(data, "old_password"), _text(data, "new_password")
        token = extract_credentials(request._request).session_token
        if old and token:
            return Response(self._change(request, verify_token(token).user.id, old, new))
        email = _text(data, "email").strip().lower()
        if as_bool(request.query_params.get("reset", "")):
            return Response(self._reset(email))
        code, answer = _text(data, "code"), _text(data, "security_answer")
        if code or answer:
            if not email:
                raise BadRequest(NO_EMAIL)
            if not new:
                raise BadRequest("Missing new password for reset.")
            user = self._by_code(email, code) if code else self._by_answer(request, email, answer)
            return Response(self._set(request, user, new))
        raise BadRequest(NOT_ENOUGH)

    put = patch = post

    def _change(self, request: Request, user_id: int, old: str, new: str) -> dict[str, Any]:
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise NotFound("The user for the current session was not found in the system.")
        self._allowed(user)
        if not new:
            raise BadRequest("Both old and new password are required to change the password.")
        address = client_address(request._request)
        throttle.check(user.email, address)
        if not user.check_password(old):
            throttle.failed(user.email, address)
            raise BadRequest("The password supplied does not match.")
        return self._set(request, user, new)

    def _reset(self, email: str) -> dict[str, Any]:
        if not email:
            raise BadRequest(NO_EMAIL)
        user = User.objects.filter(email=email, is_active=True).first()
        if user is None or bool(user.is_staff) != self.for_admins:
            return {"success": True}  # tells nobody whether the account exists
        if user.security_question:
            return {"security_question": user.security_question}
        password_reset.start(user)
        return {"success": True}

    def _by_code(self, email: str, code: str) -> User:
        user = password_reset.redeem(email, code)
        if not user.is_active:
            raise NotFound(password_reset.BAD_CODE)
        self._allowed(user)
        return user

    def _by_answer(self, request: Request, email: str, answer: str) -> User:
        address = client_address(request._request)
        throttle.check(email, address)
        user = User.objects.filter(email=email, is_active=True).first()
        if user is None or not user.security_answer:
            throttle.failed(email, address)
            raise NotFound("The supplied email and security answer were not found in the system.")
        self._allowed(user)
        if not check_password(answer, user.security_answer):
            throttle.failed(email, address)
            raise BadRequest("The answer supplied does not match.")
        return user


class AdminPasswordView(PasswordView):
    for_admins = True
    resource_path = "system/admin/password"
