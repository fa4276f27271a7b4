"""The configuration file's format (issue #16): its marker, its sections, the keys each kind of
record may hold, the key a record is matched by, and how the file is written (`dumps`)."""

from __future__ import annotations

import json
from typing import Any

FORMAT = "pg-gateway-config"
VERSION = 1
SECTIONS = ("services", "roles", "apps", "users", "limits", "lookups", "cors")
OWNERS = ("app", "role", "user")  # a lookup's owner keys (none: a system lookup)

SERVICE_INFO = ("label", "description", "is_active")
SERVICE_KEYS = frozenset({"name", "type", *SERVICE_INFO, "config"})
ROLE_FIELDS = ("description", "is_active", "db_role")
ROLE_KEYS = frozenset({"name", *ROLE_FIELDS, "rules"})
RULE_KEYS = frozenset(
    {"service", "component", "verb_mask", "requestor_mask", "filters", "filter_op"}
)
APP_FIELDS = ("description", "is_active")
APP_KEYS = frozenset({"name", *APP_FIELDS, "role"})
USER_FIELDS = ("name", "first_name", "last_name", "phone", "is_active", "source")
USER_KEYS = frozenset({"email", *USER_FIELDS, "app_roles"})
LIMIT_FIELDS = ("description", "type", "rate", "endpoint", "verb", "is_active")
LIMIT_KEYS = frozenset({"name", *LIMIT_FIELDS, "period", "user", "role", "service"})
LOOKUP_KEYS = frozenset({"name", "value", "private", "description", *OWNERS})
CORS_FIELDS = (
    "description",
    "header",
    "exposed_header",
    "max_age",
    "supports_credentials",
    "enabled",
)
CORS_KEYS = frozenset({"path", "origin", *CORS_FIELDS, "method"})


def dumps(document: dict[str, Any]) -> str:
    """The document as the file holds it: sorted keys, two-space indent, one final newline,
    so two exports of the same state are byte-identical (with secrets left out)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def name_key(record: dict[str, Any]) -> str:
    """The key of a record matched by its name (a limit)."""
    return str(record.get("name"))


def lookup_key(record: dict[str, Any]) -> tuple[str, str, str]:
    """A lookup's key: its owner's kind ("" for a system lookup), the owner's name, its name."""
    kind = next((k for k in OWNERS if record.get(k) is not None), "")
    return kind, str(record.get(kind) or ""), str(record.get("name"))


def cors_key(record: dict[str, Any]) -> tuple[str, str]:
    """A CORS rule's key: its path and origin."""
    return str(record.get("path")), str(record.get("origin"))
