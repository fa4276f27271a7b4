"""Admin console pages for sign-in providers (issue #15): one page per kind, each editing the
provider's `services.Service` row (name, label, description, active, type) and its settings
together. Secrets are write-only, as a service's password; "Test" checks the provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import GatewayError
from rbac import ldap_login
from rbac.models import LDAP_TYPES, LdapProvider, Provider
from services.models import Service, validate_service_name

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec

WRITE_ONLY = "Write-only: leave blank to keep the stored value."
SERVICE_FIELDS = ("name", "label", "description", "type", "is_active")
ROLE_FIELDS = ("default_role", "role_map", "app_role_map")


def secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=WRITE_ONLY,
    )


def secret_fields(label: str, clear_label: str) -> tuple[forms.CharField, forms.BooleanField]:
    """A write-only secret's field and the box that empties it (declare it `clear_<secret>`)."""
    return secret_field(label), forms.BooleanField(required=False, label=clear_label)


def provider_fieldsets(*sections: tuple[str, tuple[str, ...]]) -> _FieldsetSpec:
    """A provider page's fieldsets: the Service fields, the kind's `sections` (title, fields),
    then the role mapping."""
    middle: list[tuple[str | None, _FieldOpts]] = [
        (title, {"fields": fields}) for title, fields in sections
    ]
    return ((None, {"fields": SERVICE_FIELDS}), *middle, ("Roles", {"fields": ROLE_FIELDS}))


class ProviderForm(forms.ModelForm):
    """A provider's Service fields beside its own. `secrets` are write-only model fields: blank
    keeps the stored value, the matching `clear_<name>` box empties it."""

    types: ClassVar[list[tuple[str, str]]] = []
    secrets: ClassVar[tuple[str, ...]] = ()

    name = forms.CharField(
        max_length=40,
        validators=[validate_service_name],
        help_text="The `service` a sign-in names; shares the namespace of database services.",
    )
    label = forms.CharField(max_length=80, required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
    type = forms.ChoiceField(choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast("forms.ChoiceField", self.fields["type"]).choices = self.types
        if len(self.types) == 1:
            self.fields["type"].widget = forms.HiddenInput()
            self.fields["type"].initial = self.types[0][0]
        for secret in self.secrets:
            if secret in self.fields and not (self.instance.pk and getattr(self.instance, secret)):
                self.fields[secret].help_text = "Write-only: never shown again once saved."
        service = getattr(self.instance, "service", None) if self.instance.pk else None
        if service is not None:
            for key in SERVICE_FIELDS:
                self.fields[key].initial = getattr(service, key)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        taken = Service.objects.filter(name=name).exclude(pk=self.instance.pk or 0)
        if taken.exists():
            raise ValidationError(f"A service named '{name}' already exists; choose another name.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        for secret in self.secrets:
            if cleaned.get(f"clear_{secret}"):
                cleaned[secret] = ""
            elif not cleaned.get(secret) and self.instance.pk:
                cleaned[secret] = str(getattr(self.instance, secret) or "")
        return cleaned

    def save(self, commit: bool = True) -> Any:
        provider: Provider = super().save(commit=False)
        data = self.cleaned_data
        service = provider.service if provider.pk else Service()
        service.name, service.type = data["name"], data["type"]
        service.label, service.description = data.get("label") or "", data.get("description") or ""
        service.is_active = bool(data.get("is_active"))
        with transaction.atomic():
            service.save()  # bumps the metadata version like any service write
            provider.service = service
            if commit:
                provider.save()
                self.save_m2m()
        return provider


class ProviderAdmin(admin.ModelAdmin):
    """The list, the page's sections and the Test action every provider page shares. A page sets
    `sections` (title, fields): its fieldsets are the Service fields, those, then the roles."""

    sections: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = ()
    list_display = ["name", "label", "type", "is_active"]
    search_fields = ["service__name", "service__label"]
    actions = ("test_provider",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.fieldsets = provider_fieldsets(*cls.sections)

    def test_with(self, provider: Any) -> str:
        """What "Test" says of `provider` (a classified GatewayError when it fails)."""
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("service")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.save()

    @admin.action(description="Test: the provider answers as configured")
    def test_provider(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for provider in queryset:
            try:
                self.message_user(request, f"{provider.name}: {self.test_with(provider)}")
            except GatewayError as exc:
                self.message_user(request, f"{provider.name}: {exc.message}", messages.ERROR)


LDAP_SERVER = ("host", "port", "use_tls", "use_ssl", "tls_ca_file", "timeout")
LDAP_USERS = ("base_dn", "user_filter", "account_suffix", "bind_dn")


class LdapProviderForm(ProviderForm):
    """An LDAP or AD provider with a write-only bind password."""

    types = LDAP_TYPES
    secrets = ("bind_password",)
    bind_password, clear_bind_password = secret_fields("Bind password", "Clear bind password")

    class Meta:
        model = LdapProvider
        fields = (*LDAP_SERVER, *LDAP_USERS, "bind_password", *ROLE_FIELDS)


@admin.register(LdapProvider)
class LdapProviderAdmin(ProviderAdmin):
    form = LdapProviderForm
    list_display = ["name", "label", "type", "host", "port", "is_active"]
    list_filter = ("service__type", "service__is_active")
    search_fields = ["service__name", "service__label", "host"]
    sections = (
        ("Server", LDAP_SERVER),
        ("Users", (*LDAP_USERS, "bind_password", "clear_bind_password")),
    )

    def test_with(self, provider: Any) -> str:
        return ldap_login.check(provider)
