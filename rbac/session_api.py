"""Log in, inspect, refresh and log out (spec §7.2-7.3): `/api/v2/user/session` for users and
`/api/v2/system/admin/session` for admins; `/api/v2/user/register` and the public
`/api/v2/system/environment`.

Any token sent with a login is ignored (a stale token never blocks a login). Failed logins are
throttled per account and per client address (rbac/throttle.py).
"""

from __future__ import annotations

import socket
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikeys.lookup import AppSnapshot, by_id, resolve
from core.client import client_address
from core.context import current as current_context
from core.credentials import extract_credentials
from core.errors import BadRequest, Forbidden, GatewayError, NotAuthenticated, NotFound
from core.flags import as_bool
from rbac import ldap_login, oidc_login, sso_state, sso_users, throttle
from rbac.models import LdapProvider, OidcProvider, Provider, SamlProvider, User
from rbac.policy import effective_role
from rbac.sessions import forever_allowed, issue_token, refresh_token, revoke_token, verify_token
from rbac.user_service import UserServiceView

_FORMAT = "%Y-%m-%d %H:%M:%S"
NO_SESSION = "There is no valid session for the current request."
INVALID_CREDENTIALS = "Invalid credentials supplied."

LOGIN_BODY = inline_serializer(
    "Login",
    {
        "email": serializers.EmailField(),
        "password": serializers.CharField(),
        "remember_me": serializers.BooleanField(required=False),
    },
)


def session_info(
    user: Any, token: str | None = None, expiry: Any = None, role: Any = None
) -> dict[str, Any]:
    """The public session object of spec §7.2 (role and role_id only when a role applies)."""
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
    if role is not None:
        info.update({"role": role.name, "role_id": role.id})
    return info


def _note_login(user: Any, app: AppSnapshot | None, role: Any) -> None:
    """Who logged in, through which app, for the audit trail (never the password)."""
    context = current_context()
    if context is None:
        return
    context.user_id, context.user_email, context.is_admin = user.pk, user.email, user.is_staff
    if app is not None:
        context.app_id, context.app_name = app.id, app.name
    if role is not None:
        context.role_id, context.role_name = role.id, role.name


def role_for(user: Any, app: AppSnapshot | None) -> Any:
    """The user's role through `app`, as the data API will resolve it (admins: none)."""
    if user.is_staff or app is None:
        return None
    role = effective_role(user.pk, app)
    if role is not None and not role.is_active:
        raise Forbidden("Role is not active.")
    return role


def session_answer(
    request: Request, user: Any, app: AppSnapshot | None, *, forever: bool = False
) -> dict[str, Any]:
    """The session body (spec §7.2) with a new token, for a user who proved who they are
    (a password, a directory, a provider's callback) through `app`."""
    role = role_for(user, app)
    _note_login(user, app, role)
    user.last_login_date = timezone.now()
    User.objects.filter(pk=user.pk).update(last_login_date=user.last_login_date)
    token, expiry = issue_token(user, issuer=request.build_absolute_uri(), forever=forever)
    return session_info(user, token, expiry, role)


def _redirect(url: str) -> HttpResponse:
    """A 302 that no cache keeps (sign-in redirects carry state or a session token)."""
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


P = TypeVar("P", bound=Provider)


def active_provider(kind: type[P], name: str, **filters: Any) -> P | None:
    """The active provider of this kind named `name` (and matching `filters`), or None."""
    found: P | None = kind.objects.filter(
        service__name=name, service__is_active=True, **filters
    ).first()
    return found


def _oidc_provider(name: str) -> OidcProvider:
    provider = active_provider(OidcProvider, name)
    if provider is None:
        raise BadRequest(f"Unknown or inactive OpenID Connect service '{name}'.")
    return provider


def _no_store(data: dict[str, Any]) -> Response:
    """Session answers carry tokens: never cached by browsers or proxies."""
    return Response(data, headers={"Cache-Control": "no-store"})


class SessionView(UserServiceView):
    """POST logs in; GET describes the session; PUT refreshes it; DELETE logs out. PATCH is
    not a session verb (400, spec §7.3)."""

    for_admins: ClassVar[bool] = False

    def _role_for(self, request: Request, user: Any) -> Any:
        """The user's role for the calling app (API key), as the data API will resolve it."""
        return role_for(user, resolve(extract_credentials(request._request).api_key))

    def _token(self, request: Request) -> str:
        token = extract_credentials(request._request).session_token
        if not token:
            if self.for_admins and request.method == "GET":
                raise NotFound("No user session found.")
            raise NotAuthenticated(NO_SESSION)
        return token

    def _ldap_login(self, request: Request, data: dict[str, Any]) -> Any:
        """`{"username"|"email", "password", "service"}`: sign in with an LDAP provider."""
        name = str(data.get("service") or "").strip()
        provider = active_provider(LdapProvider, name)
        if provider is None or self.for_admins:
            raise BadRequest(f"Unknown or inactive login service '{name}'.")
        username = str(data.get("username") or data.get("email") or "").strip()
        if not username:
            raise BadRequest("Login request is missing required username.")
        if not data.get("password"):
            raise BadRequest("Login request is missing required password.")
        key, address = f"{provider.name}:{username.lower()}", client_address(request._request)
        throttle.check(key, address)
        try:
            entry = ldap_login.verify(provider, username, str(data["password"]))
            app = resolve(extract_credentials(request._request).api_key)
            user = sso_users.sign_in(provider, entry, app)
        except NotAuthenticated:
            throttle.failed(key, address)
            raise
        throttle.succeeded(key, address)
        return user

    @extend_schema(request=LOGIN_BODY, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        if data.get("service"):
            return self._session_for(request, data, self._ldap_login(request, data))
        email = str(data.get("email") or "").strip().lower()
        password = data.get("password")
        if not email:
            raise BadRequest("Login request is missing required email.")
        if not password:
            raise BadRequest("Login request is missing required password.")
        address = client_address(request._request)
        throttle.check(email, address)
        user = authenticate(request._request, username=email, password=str(password))
        if user is None or not user.is_active or bool(user.is_staff) != self.for_admins:
            throttle.failed(email, address)
            raise NotAuthenticated(INVALID_CREDENTIALS)
        throttle.succeeded(email, address)
        return self._session_for(request, data, user)

    def _session_for(self, request: Request, data: dict[str, Any], user: Any) -> Response:
        """The session answer (spec §7.2) for a user who proved who they are."""
        app = resolve(extract_credentials(request._request).api_key)
        forever = forever_allowed(as_bool(data.get("remember_me", False)))
        return _no_store(session_answer(request, user, app, forever=forever))

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response | HttpResponse:
        if request.query_params.get("service") and not self.for_admins:
            return self._oidc(request)
        session = verify_token(self._token(request))
        if self.for_admins and not session.user.is_admin:
            raise NotAuthenticated("You are not authorized to perform this action.")
        user = User.objects.get(pk=session.user.id)
        return _no_store(session_info(user, role=self._role_for(request, user)))

    def _oidc(self, request: Request) -> Response | HttpResponse:
        """`?service=<oidc provider>`: 302 to the provider. Its callback (DF's
        `?oauth_callback=true&service=..&code=..&state=..`) answers the session, or 302s to the
        provider's redirect_url with `?session_token=`; an admin console sign-in goes on to
        /admin/sso/<name>/callback/ (where the admin's Django session lives)."""
        provider = _oidc_provider(str(request.query_params.get("service")))
        params = {k: str(v) for k, v in request.query_params.items()}
        redirect_uri = oidc_login.callback_url(request._request, provider.name)
        if not as_bool(params.get("oauth_callback", "")):
            app = resolve(extract_credentials(request._request).api_key)
            return _redirect(
                oidc_login.authorization_url(
                    provider, redirect_uri, purpose="user", app_id=app.id if app else None
                )
            )
        if sso_state.purpose_of(params.get("state", "")) == "admin":
            query = request._request.META.get("QUERY_STRING", "")
            return _redirect(f"/admin/sso/{quote(provider.name)}/callback/?{query}")
        identity, pending = oidc_login.finish(provider, redirect_uri, params)
        app = by_id(pending.app_id)
        user = sso_users.sign_in(provider, identity, app)
        answer = session_answer(request, user, app)
        if not provider.redirect_url:
            return _no_store(answer)
        token = str(answer["session_token"])
        return _redirect(_with_query(provider.redirect_url, session_token=token))

    @extend_schema(request=None, responses={200: dict})
    def put(self, request: Request) -> Response:
        try:
            token, expiry, user = refresh_token(
                self._token(request),
                issuer=request.build_absolute_uri(),
                admins_only=self.for_admins,
            )
        except GatewayError as exc:
            if exc.status == 401 and not exc.message.startswith("Token refresh failed."):
                exc.message = f"Token refresh failed. {exc.message}"
            raise
        return _no_store(session_info(user, token, expiry, self._role_for(request, user)))

    @extend_schema(request=None, responses={200: dict})
    def delete(self, request: Request) -> Response:
        revoke_token(self._token(request))
        return _no_store({"success": True})


class AdminSessionView(SessionView):
    for_admins = True
    resource_path = "system/admin/session"


class UserSessionView(SessionView):
    for_admins = False
    resource_path = "user/session"


class RegisterView(UserServiceView):
    """POST /api/v2/user/register (PUT and PATCH are aliases, as in DF): open registration,
    when GATEWAY_OPEN_REGISTRATION is on. `new_password` is DF's name for `password`; with
    `?login=true` the answer carries a session token.

    The new user has no role of their own: through an app they get its default role.
    """

    resource_path = "user/register"

    @extend_schema(
        request=inline_serializer(
            "Register",
            {
                "email": serializers.EmailField(),
                "password": serializers.CharField(),
                "first_name": serializers.CharField(required=False),
                "last_name": serializers.CharField(required=False),
                "name": serializers.CharField(required=False),
            },
        ),
        responses={200: dict},
    )
    def post(self, request: Request) -> Response:
        if not settings.GATEWAY_OPEN_REGISTRATION:
            raise Forbidden(
                "Open registration for users is not enabled on this instance; ask an admin "
                "for an account."
            )
        data = request.data if isinstance(request.data, dict) else {}
        email = User.objects.normalize_email(str(data.get("email") or "").strip()).lower()
        password = str(data.get("new_password") or data.get("password") or "")
        if not email or "@" not in email:
            raise BadRequest("Registration needs a valid email.")
        names = {k: str(data.get(k) or "")[:150] for k in ("first_name", "last_name")}
        user = User(email=email, name=str(data.get("name") or "")[:255], **names)
        user.phone = str(data.get("phone") or "")[:32]
        user.security_question = str(data.get("security_question") or "")[:255]
        if data.get("security_answer"):
            user.security_answer = make_password(str(data["security_answer"]))
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise BadRequest("Password not accepted: " + " ".join(exc.messages)) from None
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            raise BadRequest(f"A user with email '{email}' already exists.") from None
        if not as_bool(request.query_params.get("login", "")):
            return Response({"success": True})
        token, _ = issue_token(user, issuer=request.build_absolute_uri())
        return _no_store({"success": True, "session_token": token})

    put = patch = post


class EnvironmentView(APIView):
    """GET /api/v2/system/environment: public; tells clients where and how to log in."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        token = extract_credentials(request._request).session_token
        if token:
            verify_token(token)  # bad tokens fail even on public endpoints (spec §7.4)
        return Response(
            {
                "authentication": {
                    "admin": {"path": "system/admin/session", "verb": "POST"},
                    "user": {"path": "user/session", "verb": "POST"},
                    "allow_open_registration": settings.GATEWAY_OPEN_REGISTRATION,
                    "login_attribute": "email",
                    "oauth": [
                        {
                            "name": p.name,
                            "label": p.label,
                            "type": p.type,
                            "path": f"user/session?service={p.name}",
                            "verb": "GET",
                        }
                        for p in OidcProvider.objects.filter(service__is_active=True)
                    ],
                    "ldap": [
                        {"name": p.name, "label": p.label, "path": "user/session", "verb": "POST"}
                        for p in LdapProvider.objects.filter(service__is_active=True)
                    ],
                    "saml": [
                        {
                            "name": p.name,
                            "label": p.label,
                            "path": f"user/saml/{p.name}/sso",
                            "verb": "GET",
                        }
                        for p in SamlProvider.objects.filter(service__is_active=True)
                    ],
                },
            }
        )
