"""The service types this gateway serves (`system/service_type`, spec §9.2): today only pgsql.

A type record is DF's: `{name, label, description, group, singleton, dependencies_required,
subscription_required, service_definition_editable, config_schema: [...]}`; the directory
(`GET /api/v2`, spec §2.1) shows its first four keys. `config_schema` describes each `config`
key a service record of the type takes, read from the Service model's fields.
"""

from __future__ import annotations

from typing import Any, cast

from django.db import models

from core.errors import BadRequest, NotFound
from services.field_groups import CONNECTION_FIELDS, OPTION_FIELDS
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
    if field.name == "password":
        return "password"
    if field.choices:
        return "picklist"
    if isinstance(field, models.BooleanField):
        return "boolean"
    if isinstance(field, models.IntegerField):
        return "integer"
    return "string"


def _config_schema() -> list[dict[str, Any]]:
    schema = []
    for name in CONFIG_FIELDS:
        field = cast("models.Field[Any, Any]", Service._meta.get_field(name))
        entry: dict[str, Any] = {
            "name": name,
            "label": str(field.verbose_name).replace("_", " ").title(),
            "type": _field_type(field),
            "description": _DESCRIPTIONS.get(name) or str(field.help_text) or None,
            "required": name in REQUIRED_CONFIG,
            "allow_null": name not in REQUIRED_CONFIG,
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
        "config_schema": _config_schema(),
    }


SERVICE_TYPES: dict[str, dict[str, Any]] = {"pgsql": _pgsql()}


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
