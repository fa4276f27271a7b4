"""Lookups in a service's connection settings (spec §9.3: `"password": "{db_password}"`).

Only system-wide lookups apply, private ones included: a service has one pool for every
caller, so a per-app, per-role or per-user value could not choose its connection. Read when
the service registry re-reads its services, never per request.
"""

from __future__ import annotations

from typing import Any

from lookups.models import NO_OWNER, Lookup
from lookups.text import fill

# the text settings a lookup may stand in for
FIELDS = ("host", "database", "username", "password", "schema", "sslrootcert", "application_name")


def system_values() -> dict[str, str]:
    return dict(Lookup.objects.filter(NO_OWNER).values_list("name", "value"))


def with_lookups(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` with `{name}` tokens in its text settings replaced (no query without one)."""
    named = [f for f in FIELDS if isinstance(fields.get(f), str) and "{" in fields[f]]
    if not named:
        return fields
    values = system_values()
    return {**fields, **{f: fill(fields[f], values) for f in named}}
