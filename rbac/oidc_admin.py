"""The admin console's OIDC provider page, and its "Sign in with <provider>" for admins
(issue #15): `/admin/sso/<name>/` starts the flow; the provider returns to DF's callback
(rbac.session_api), which sends an admin sign-in on to `/admin/sso/<name>/callback/` where the
console's session lives. Only an existing, active admin with the (verified) email is signed in;
nobody is created."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from core.errors import GatewayError
from rbac import oidc_login
from rbac.models import OidcProvider, User
from rbac.provider_admin import ROLE_FIELDS, ProviderAdmin, ProviderForm, secret_fields
from rbac.session_api import active_provider

LOGIN_PAGE = "/admin/login/"
NOT_AN_ADMIN = (
    "Sign-in with '{label}' refused: {email} is not an active admin of this console "
    "(admins are never created by a sign-in)."
)


CLIENT = ("issuer", "client_id")
CONNECTION = ("scopes", "timeout")
SIGN_IN = ("redirect_url", "email_claim", "groups_claim")


class OidcProviderForm(ProviderForm):
    """An OIDC provider with a write-only client secret."""

    types = [("oidc", "OpenID Connect")]
    secrets = ("client_secret",)
    client_secret, clear_client_secret = secret_fields("Client secret", "Clear client secret")
    issuer = forms.URLField(
        max_length=512,
        assume_scheme="https",
        help_text="Discovery: <issuer>/.well-known/openid-configuration. The callback to "
        "register at the provider: <gateway>/api/v2/user/session?oauth_callback=true&service="
        "<name>.",
    )

    class Meta:
        model = OidcProvider
        fields = (
            *CLIENT,
            "client_secret",
            *CONNECTION,
            *SIGN_IN,
            "accept_bearer_tokens",
            "audience",
            "admin_sign_in",
            *ROLE_FIELDS,
        )


@admin.register(OidcProvider)
class OidcProviderAdmin(ProviderAdmin):
    form = OidcProviderForm
    list_display = ["name", "label", "issuer", "accept_bearer_tokens", "admin_sign_in", "is_active"]
    list_filter = ("service__is_active", "accept_bearer_tokens", "admin_sign_in")
    search_fields = ["service__name", "service__label", "issuer", "client_id"]
    sections = (
        ("Provider", (*CLIENT, "client_secret", "clear_client_secret", *CONNECTION)),
        ("Sign-in", (*SIGN_IN, "admin_sign_in")),
        ("Bearer tokens", ("accept_bearer_tokens", "audience")),
    )

    def test_with(self, provider: Any) -> str:
        return oidc_login.check(provider)


def admin_providers() -> list[OidcProvider]:
    """The providers the console's login page offers."""
    return list(OidcProvider.objects.filter(service__is_active=True, admin_sign_in=True))


def _provider(name: str) -> OidcProvider | None:
    return active_provider(OidcProvider, name, admin_sign_in=True)


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return HttpResponseRedirect(LOGIN_PAGE)


def login_page(request: HttpRequest) -> HttpResponse:
    """The console's login page with a "Sign in with <label>" link per provider."""
    response: HttpResponse = admin.site.login(
        request, extra_context={"sso_providers": admin_providers()}
    )
    return response


def start(request: HttpRequest, name: str) -> HttpResponse:
    """GET /admin/sso/<name>/: off to the provider (purpose "admin")."""
    provider = _provider(name)
    if provider is None:
        return _refused(request, f"There is no admin sign-in with '{name}'.")
    try:
        url = oidc_login.authorization_url(
            provider, oidc_login.callback_url(request, provider.name), purpose="admin"
        )
    except GatewayError as exc:
        return _refused(request, exc.message)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


def finish(request: HttpRequest, name: str) -> HttpResponse:
    """GET /admin/sso/<name>/callback/: the provider's answer, passed on by DF's callback."""
    provider = _provider(name)
    if provider is None:
        return _refused(request, f"There is no admin sign-in with '{name}'.")
    params = {k: str(v) for k, v in request.GET.items()}
    try:
        identity, pending = oidc_login.finish(
            provider, oidc_login.callback_url(request, provider.name), params
        )
    except GatewayError as exc:
        return _refused(request, exc.message)
    if pending.purpose != "admin":
        return _refused(request, "This sign-in was not started from the admin console.")
    user = (
        User.objects.filter(email__iexact=identity.email, is_staff=True, is_active=True).first()
        if identity.email
        else None
    )
    if user is None:
        label = provider.label
        return _refused(
            request, NOT_AN_ADMIN.format(email=identity.email or "The user", label=label)
        )
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect("/admin/")
