"""The service types this gateway serves (`system/service_type`, spec §9.2): pgsql, and the
sign-in provider types rbac registers at start-up (ldap, adldap, oidc, saml; issue #15).

A type record is DF's: `{name, label, description, group, singleton, dependencies_required,
subscription_required, service_definition_editable, config_schema: [...]}`; the directory
(`GET /api/v2`, spec §2.1) shows its first four keys. `config_schema` describes each `config`
key a service record of the type takes, read from the Service model's fields.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import models

from core.errors import BadRequest, NotFound
from services.field_groups import CONNECTION_FIELDS, FIELD_LABELS, OPTION_FIELDS
from services.models import Service

# DF's `config` object: every setting but the INFO ones (`charset` is kept for DF clients)
CONFIG_FIELDS = (*CONNECTION_FIELDS, "schema", "charset", *OPTION_FIELDS)
REQUIRED_CONFIG = ("host", "database")
DIRECTORY_KEYS = ("name", "label", "group", "description")

_DESCRIPTIONS = {
    "host": "The name or address of the database server.",
    "port": "The port the database server listens on.",
    "database": "The name of the database to serve.",
    "username": "The user to connect as (stored encrypted).",
    "password": "The user's password (stored encrypted, answered masked).",
    "schema": "The schema served; blank for every schema (tables outside the default schema "
    "are named schema.table).",
    "sslmode": "libpq's SSL mode.",
    "sslrootcert": "A file holding the certificate authority to verify the server against.",
    "timezone": "The session time zone (blank: the server's).",
    "application_name": "The application name the server sees.",
    "statement_timeout": "Milliseconds a statement may run; 0 disables.",
    "pool_min": "Connections kept open.",
    "pool_max": "Most connections opened at once.",
}


def _field_type(field: models.Field[Any, Any]) -> str:
    if field.choices:
        return "picklist"
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, models.IntegerField | models.ForeignKey):
        return "integer"
    if isinstance(field, models.JSONField):
        return "object"
    return "string"


def config_schema(
    model: type[models.Model],
    names: tuple[str, ...],
    required: tuple[str, ...] = (),
    descriptions: dict[str, str] | None = None,
    secrets: tuple[str, ...] = ("password",),
) -> list[dict[str, Any]]:
    """DF's `config_schema` for the `config` keys `names`, read from `model`'s fields."""
    schema = []
    for name in names:
        field = cast("models.Field[Any, Any]", model._meta.get_field(name))
        entry: dict[str, Any] = {
            "name": name,
            "label": FIELD_LABELS.get(name)
            or str(field.verbose_name).replace("_", " ").capitalize(),
            "type": "password" if name in secrets else _field_type(field),
            "description": (descriptions or {}).get(name) or str(field.help_text) or None,
            "required": name in required,
            "allow_null": name not in required,
            "default": field.get_default() if field.has_default() else None,
        }
        if field.choices:
            entry["values"] = [{"name": value, "label": label} for value, label in field.choices]
        schema.append(entry)
    return schema


def _pgsql() -> dict[str, Any]:
    return {
        "name": "pgsql",
        "label": "PostgreSQL",
        "description": "Database service supporting PostgreSQL connections.",
        "group": "Database",
        "singleton": False,
        "dependencies_required": None,
        "subscription_required": None,
        "service_definition_editable": False,
        "config_schema": config_schema(Service, CONFIG_FIELDS, REQUIRED_CONFIG, _DESCRIPTIONS),
    }


SERVICE_TYPES: dict[str, dict[str, Any]] = {"pgsql": _pgsql()}


class ProviderConfig(Protocol):
    """How `system/service` reads and writes the `config` of a provider type (rbac implements
    it: the settings live in its models, above this layer)."""

    def config(self, service: Service) -> dict[str, Any]:
        """The record's `config` (secrets masked)."""

    def write(self, service: Service, config: dict[str, Any], *, creating: bool) -> None:
        """Validate and save `config` for the saved `service`; 400 naming the bad key."""

    def test(self, service: Service, config: dict[str, Any]) -> dict[str, Any]:
        """`_test`: what the provider answers with the stored settings, `config` overriding."""


PROVIDERS: dict[str, ProviderConfig] = {}


def register_provider_type(record: dict[str, Any], handler: ProviderConfig) -> None:
    """Serve a provider type on `system/service` and `system/service_type` (rbac's ready())."""
    SERVICE_TYPES[record["name"]] = record
    PROVIDERS[record["name"]] = handler


def supported() -> str:
    return ", ".join(SERVICE_TYPES)


def service_type(name: str) -> dict[str, Any]:
    """One type's record; 404 naming the supported types."""
    found = SERVICE_TYPES.get(name)
    if found is None:
        raise NotFound(f"Service type '{name}' not found; supported types: {supported()}.")
    return found


def check_type(value: Any, where: str = "") -> str:
    """A record's `type`, or a 400 naming the supported types."""
    if not isinstance(value, str) or value not in SERVICE_TYPES:
        raise BadRequest(
            f"Service type '{value}' is not supported{where}; supported types: {supported()}."
        )
    return value


def directory_entry(name: str) -> dict[str, Any]:
    """The short form the directory (`GET /api/v2`) lists."""
    return {key: SERVICE_TYPES[name][key] for key in DIRECTORY_KEYS}
