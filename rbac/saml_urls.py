"""Routes of the SAML sign-in (issue #15) under the user service, DreamFactory-like:

- `GET  /api/v2/user/saml/<name>/metadata`: the SP's metadata XML, for the IdP's admin;
- `GET  /api/v2/user/saml/<name>/sso`: starts a sign-in (302 to the IdP), remembering the
  calling app (API key header or `api_key`);
- `POST /api/v2/user/saml/<name>/acs`: the assertion consumer; answers the session (spec §7.2),
  or with the provider's `redirect_url` a 302 to it with `?session_token=`.

These are system API paths: gateway/middleware.py dispatches them ahead of Django's middleware
stack, so CSRF checks never apply to the IdP's cross-site POST (and DRF views are exempt).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys.lookup import by_id, resolve
from core.credentials import extract_credentials
from core.errors import NotFound
from rbac import sso_users
from rbac.models import SamlProvider
from rbac.saml_lazy import saml_login
from rbac.session_api import active_provider, session_answer
from rbac.user_service import UserServiceView

NO_STORE = {"Cache-Control": "no-store"}


def provider_named(name: str) -> SamlProvider:
    """The active SAML provider `name` (404 otherwise)."""
    provider = active_provider(SamlProvider, name)
    if provider is None:
        raise NotFound(f"There is no active SAML provider named '{name}'.")
    return provider


class SamlView(UserServiceView):
    resource_path = "user/saml"


class MetadataView(SamlView):
    def get(self, request: Request, name: str) -> HttpResponse:
        xml = saml_login().sp_metadata(request.build_absolute_uri, provider_named(name))
        return HttpResponse(xml, content_type="application/samlmetadata+xml")


class SsoView(SamlView):
    def get(self, request: Request, name: str) -> HttpResponse:
        provider = provider_named(name)
        app = resolve(extract_credentials(request._request).api_key)
        location = saml_login().start(
            request.build_absolute_uri, provider, app.id if app is not None else None
        )
        return HttpResponseRedirect(location, headers=NO_STORE)


class AcsView(SamlView):
    parser_classes = (FormParser, MultiPartParser)

    def post(self, request: Request, name: str) -> Any:
        provider = provider_named(name)
        data = request.data if isinstance(request.data, dict) else {}
        posted = str(data.get("SAMLResponse") or "")
        identity, app_id = saml_login().finish(request.build_absolute_uri, provider, posted)
        app = by_id(app_id)
        user = sso_users.sign_in(provider, identity, app)
        body = session_answer(request, user, app)
        if provider.redirect_url:
            glue = "&" if "?" in provider.redirect_url else "?"
            query = urlencode({"session_token": body["session_token"]})
            return HttpResponseRedirect(provider.redirect_url + glue + query, headers=NO_STORE)
        return Response(body, headers=NO_STORE)


urlpatterns: list[URLPattern] = [
    path("api/v2/user/saml/<str:name>/metadata", MetadataView.as_view()),
    path("api/v2/user/saml/<str:name>/sso", SsoView.as_view()),
    path("api/v2/user/saml/<str:name>/acs", AcsView.as_view()),
]
