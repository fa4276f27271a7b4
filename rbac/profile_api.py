"""`user/profile` and `system/admin/profile`: the caller reads and edits their own profile.

Editable, as in DF: first_name, last_name, name, email, phone, security_question and
security_answer (hashed, never shown). DF's username and default_app_id are answered as null
and ignored on writes (users log in by email here; apps are not launched by the gateway).
Changing the email ends the token (its `sub` is the email's digest), so the answer carries a
new `session_token`, as DF's does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.hashers import make_password
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.drf import as_gateway_error
from core.errors import BadRequest
from rbac.models import User
from rbac.sessions import end_session, issue_token
from rbac.user_service import UserServiceView, body_of, current_session, current_user
from rbac.user_writes import save_user


class ProfileSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "name", "email", "phone", "security_question")


def profile_of(user: User) -> dict[str, Any]:
    """DF's profile object (spec: UserProfileResource)."""
    return {
        "username": None,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name": user.display_name,
        "email": user.email,
        "phone": user.phone,
        "security_question": user.security_question,
        "default_app_id": None,
        "oauth_provider": "",
        "adldap": "",
    }


class ProfileView(UserServiceView):
    """GET reads the caller's profile; POST (PUT and PATCH are aliases) changes it."""

    for_admins: ClassVar[bool] = False
    resource_path = "user/profile"

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(profile_of(current_user(request, admins=self.for_admins)))

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = body_of(request)
        if not data:
            raise BadRequest("No data supplied for operation.")
        session = current_session(request, admins=self.for_admins)
        user = current_user(request, session=session)
        fields = {k: data[k] for k in ProfileSerializer.Meta.fields if data.get(k) is not None}
        if isinstance(fields.get("email"), str):
            fields["email"] = fields["email"].strip().lower()
        answer = data.get("security_answer")
        if answer is not None and not isinstance(answer, str):
            raise BadRequest("security_answer must be a string.")
        serializer = ProfileSerializer(user, data=fields, partial=True)
        if not serializer.is_valid():
            raise as_gateway_error(serializers.ValidationError(serializer.errors)) or BadRequest()
        old_email = user.email
        for key, value in serializer.validated_data.items():
            setattr(user, key, value)
        if answer is not None:
            user.security_answer = make_password(answer) if answer else ""
        save_user(user)
        if user.email == old_email:
            return Response({"success": True})
        end_session(session)
        token, _ = issue_token(user, issuer=request.build_absolute_uri())
        return Response({"success": True, "session_token": token})

    put = patch = post


class AdminProfileView(ProfileView):
    for_admins = True
    resource_path = "system/admin/profile"
