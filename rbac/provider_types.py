"""The sign-in provider types on `system/service` (issue #15): each type's record for
`system/service_type`, and its `config` read from and written to its rbac model. A provider
record is DF's: `{"name", "label", "type": "ldap", "config": {"host": ..., ...}}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from core.errors import BadRequest
from rbac.models import LdapProvider, OidcProvider, Provider, Role, SamlProvider
from services.models import MASKED_PASSWORD, Service
from services.system.service_types import config_schema, register_provider_type

Tester = Callable[[Any], str]


class ModelConfig:
    """`config` <-> the fields of a Provider model; `secrets` are write-only (masked)."""

    def __init__(self, model: type[Provider], secrets: tuple[str, ...], tester: Tester) -> None:
        self.model, self.secrets, self.tester = model, secrets, tester
        self.fields = {f.name: f for f in model._meta.concrete_fields if f.name != "service"}

    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)

    def required(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, f in self.fields.items()
            if not f.blank and not f.has_default() and not f.null
        )

    def _stored(self, service: Service) -> Provider | None:
        found: Provider | None = self.model._default_manager.filter(service=service).first()
        return found

    def config(self, service: Service) -> dict[str, Any]:
        provider = self._stored(service) or self.model(service=service)
        config: dict[str, Any] = {}
        for name, f in self.fields.items():
            value = getattr(provider, f.attname)
            if name in self.secrets:
                value = MASKED_PASSWORD if value else None
            config[name] = value
        return config

    def _apply(self, provider: Provider, config: dict[str, Any]) -> None:
        unknown = sorted(set(config) - set(self.fields))
        if unknown:
            raise BadRequest(
                f"Unknown config key(s) {', '.join(unknown)} for a {provider.type} service; "
                f"known: {', '.join(self.fields)}."
            )
        for name, value in config.items():
            f = self.fields[name]
            if name in self.secrets and value == MASKED_PASSWORD:
                continue  # the mask read back: keep the stored secret
            if value is None:
                value = f.get_default() if f.has_default() else ("" if f.blank else None)
            if name == "default_role":
                value = _role_id(value, "default_role")
            elif name == "role_map":
                _check_role_map(value, "role_map")
            elif name == "app_role_map":
                _check_app_role_map(value)
            setattr(provider, f.attname, value)

    def write(self, service: Service, config: dict[str, Any], *, creating: bool) -> None:
        provider = (None if creating else self._stored(service)) or self.model(service=service)
        provider.service = service
        self._apply(provider, config)
        try:
            provider.full_clean(exclude=["service"])
        except ValidationError as exc:
            raise BadRequest(_message(exc)) from None
        provider.save()

    def test(self, service: Service, config: dict[str, Any]) -> dict[str, Any]:
        provider = self._stored(service) or self.model(service=service)
        self._apply(provider, config)
        return {"success": True, "message": self.tester(provider)}


def _message(exc: ValidationError) -> str:
    found = "; ".join(
        f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
        for field, messages in exc.message_dict.items()
    )
    return f"Invalid provider settings: {found}"


def _role_id(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        role_id = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{where} must be a role id.") from None
    if not Role.objects.filter(pk=role_id).exists():
        raise BadRequest(f"{where}: role with id '{value}' does not exist.")
    return role_id


def _check_role_map(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise BadRequest(f'{where} must be a list of {{"group": ..., "role_id": ...}}.')
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("group"), str):
            raise BadRequest(f'Each {where} entry must be {{"group": "<group>", "role_id": <id>}}.')
        _role_id(item.get("role_id"), f"{where} role_id")


def _check_app_role_map(value: Any) -> None:
    if not isinstance(value, dict):
        raise BadRequest('app_role_map must be {"<app id>": [{"group": ..., "role_id": ...}]}.')
    for app_id, mappings in value.items():
        _check_role_map(mappings, f"app_role_map['{app_id}']")


def _record(
    name: str, label: str, group: str, description: str, handler: ModelConfig
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "description": description,
        "group": group,
        "singleton": False,
        "dependencies_required": None,
        "subscription_required": None,
        "service_definition_editable": False,
        "config_schema": config_schema(
            handler.model, handler.names(), handler.required(), secrets=handler.secrets
        ),
    }


def register(testers: dict[str, Tester]) -> None:
    """Serve ldap, adldap, oidc and saml on `system/service` (rbac's ready())."""
    ldap = ModelConfig(LdapProvider, ("bind_password",), testers["ldap"])
    oidc = ModelConfig(OidcProvider, ("client_secret",), testers["oidc"])
    saml = ModelConfig(SamlProvider, ("sp_private_key",), testers["saml"])
    for name, label, group, description, handler in (
        ("ldap", "Standard LDAP", "LDAP", "Sign-in with an OpenLDAP-style directory.", ldap),
        ("adldap", "Active Directory", "LDAP", "Sign-in with Microsoft Active Directory.", ldap),
        ("oidc", "OpenID Connect", "OAuth", "Sign-in with an OpenID Connect provider.", oidc),
        ("saml", "SAML 2.0", "SSO", "Sign-in with a SAML 2.0 identity provider.", saml),
    ):
        register_provider_type(_record(name, label, group, description, handler), handler)
