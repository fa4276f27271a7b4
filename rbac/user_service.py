"""The `user` service (DF's df-user): `GET /api/v2/user` lists its resources, and what its
resource views share: the caller's own session, the JSON body, and DF's answer to a verb a
resource does not handle (400, spec §7.3 and §6.2: DF uses 405 only for CORS preflights).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.credentials import extract_credentials
from core.errors import BadRequest, NotAuthenticated, NotFound, render_error
from core.flags import as_bool
from rbac.models import User
from rbac.policy import NO_CREDENTIALS, authenticate
from rbac.sessions import Session, verify_token

NO_SESSION = "There is no valid session for the current request."
NOT_AUTHORIZED = "You are not authorized to perform this action."

# DF's order and labels (df-user's UserService resources)
RESOURCES = (
    ("password", "Password"),
    ("profile", "Profile"),
    ("register", "Register"),
    ("session", "Session"),
    ("custom", "Custom"),
)


def body_of(request: Request) -> dict[str, Any]:
    """The JSON object sent (an empty dict for anything else)."""
    data = request.data
    return data if isinstance(data, dict) else {}


def current_session(request: Request, *, admins: bool = False) -> Session:
    """The caller's verified session (401 without one); `admins` refuses non-admins (401)."""
    token = extract_credentials(request._request).session_token
    if not token:
        raise NotAuthenticated(NO_SESSION)
    session = verify_token(token)
    if admins and not session.user.is_admin:
        raise NotAuthenticated(NOT_AUTHORIZED)
    return session


def current_user(request: Request, *, admins: bool = False, session: Session | None = None) -> User:
    """The caller's own user record (401 without a session)."""
    session = session or current_session(request, admins=admins)
    user = User.objects.filter(pk=session.user.id, is_active=True).first()
    if user is None:
        raise NotAuthenticated(NO_SESSION)
    return user


class UserServiceView(APIView):
    """A resource of the user service (or of system/admin): its own checks, no DRF auth; a verb
    it does not handle answers DF's 400 and names the verbs it does."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    resource_path: ClassVar[str] = "user"

    def http_method_not_allowed(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        allowed = [m for m in self.allowed_methods if m not in ("OPTIONS", "HEAD")]
        where = f"{self.resource_path}/{kwargs['rest']}" if kwargs.get("rest") else ""
        where = where or self.resource_path
        if not allowed:
            raise BadRequest(f"{request.method} is not supported on '{where}'.")
        raise BadRequest(
            f"{request.method} is not supported on '{where}'; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )


class NoSubResource(UserServiceView):
    """`user/session/5`, `system/admin/password/x`...: these resources take no id, so every
    verb is refused with 400 (spec §7.3: `PATCH /user/session/{id}` etc.)."""

    schema = None  # not an operation of the OpenAPI document


def no_sub_resource(path: str) -> Any:
    """The view for `{path}/<rest>`."""
    view: type[NoSubResource] = type("NoSubResource", (NoSubResource,), {"resource_path": path})
    return view.as_view()


class UnknownResource(UserServiceView):
    """`/api/v2/user/foo`: the data API's wording for an unknown resource (spec §2.2)."""

    schema = None

    def _unknown(self, request: Request, rest: str = "") -> Response:
        name = rest.split("/", 1)[0]
        raise NotFound(f"Resource '{name}' not found for service 'user'.")

    get = post = put = patch = delete = _unknown


def trailing_slash(request: HttpRequest) -> HttpResponseBase:
    """`user/profile/`, `system/admin/5/`: DF keeps a trailing slash and its handlers strip it
    (spec §1.1), so the request goes to the view of the path without it."""
    path = request.path_info.rstrip("/")
    try:
        match = resolve(path, urlconf="gateway.api_urls")
    except Resolver404:
        error = NotFound(f"No system API resource at {path}.")
        return HttpResponse(render_error(error), status=404, content_type="application/json")
    response: HttpResponseBase = match.func(request, *match.args, **match.kwargs)
    return response


class UserServiceRoot(UserServiceView):
    """GET /api/v2/user: `{"resource": [{"name": "password"}, ...]}` (spec §2.2's shape:
    `fields=*` adds labels, `as_list=true` gives bare names). Any caller with credentials."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        creds = extract_credentials(request._request)
        if not creds.session_token and not creds.api_key:
            raise NotAuthenticated(NO_CREDENTIALS)
        authenticate(creds)  # a bad token fails here, as everywhere (spec §7.4)
        params = request.query_params
        if as_bool(params.get("as_list", "")):
            return Response({"resource": [name for name, _ in RESOURCES]})
        fields = {f.strip() for f in str(params.get("fields", "")).split(",") if f.strip()}
        if "*" in fields or "label" in fields:
            listed = [{"name": name, "label": label} for name, label in RESOURCES]
        else:
            listed = [{"name": name} for name, _ in RESOURCES]
        return Response({"resource": listed})
