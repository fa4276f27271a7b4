"""The admin console's SAML provider page (issue #15): the SP key is write-only; "Test" fetches
and parses the IdP metadata."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from rbac.models import SamlProvider
from rbac.provider_admin import ROLE_FIELDS, ProviderAdmin, ProviderForm, secret_fields
from rbac.saml_lazy import saml_login

ATTRIBUTES = (
    "email_attribute",
    "first_name_attribute",
    "last_name_attribute",
    "groups_attribute",
    "redirect_url",
)


class SamlProviderForm(ProviderForm):
    """A SAML provider with a write-only SP private key."""

    types = [("saml", "SAML 2.0")]
    secrets = ("sp_private_key",)
    sp_private_key, clear_sp_private_key = secret_fields(
        "SP private key (PEM)", "Clear SP private key"
    )

    class Meta:
        model = SamlProvider
        fields = ("idp_metadata", "sp_certificate", "sp_private_key", *ATTRIBUTES, *ROLE_FIELDS)


@admin.register(SamlProvider)
class SamlProviderAdmin(ProviderAdmin):
    form = SamlProviderForm
    list_filter = ("service__is_active",)
    sections = (
        ("Identity provider", ("idp_metadata",)),
        (
            "Service provider (this gateway)",
            ("sp_certificate", "sp_private_key", "clear_sp_private_key"),
        ),
        ("Attributes", ATTRIBUTES),
    )

    def test_with(self, provider: Any) -> str:
        return str(saml_login().check(provider))
