"""PostgREST's schema profiles: `Accept-Profile` (GET, HEAD) and `Content-Profile` (other
methods) choose among the schemas a service exposes.

A service with a `schema` exposes that one; with a blank `schema`, every user schema, its
tables and routines outside `public` named `schema.name` (as `/api/v2` names them). A profile
qualifies the path's name before authorization, so roles grant `_table/other.secret` as on
`/api/v2`; whether the schema is exposed is checked once the caller is admitted (406
PGRST106 with the list), so a refused caller learns nothing about the service's schemas.
"""

from __future__ import annotations

from core.environ_request import RequestLike
from core.errors import GatewayError
from services.registry import LiveService, registry

PROFILE_HEADER = "Content-Profile"


class SchemaNotExposed(GatewayError):
    status = 406
    default_message = "The schema must be one of the exposed schemas"


def requested_profile(request: RequestLike) -> str | None:
    """The schema the request names, if any."""
    meta = request.META
    method = request.method or "GET"
    header = "HTTP_ACCEPT_PROFILE" if method in ("GET", "HEAD") else "HTTP_CONTENT_PROFILE"
    return meta.get(header, "").strip() or None


def default_schema(service: str) -> str:
    """The schema whose names go unqualified (without looking at the database)."""
    live = registry.find(service)
    return (live.config.schema if live is not None else "") or "public"


def profiled(request: RequestLike, service: str, name: str) -> tuple[str, str | None]:
    """The API name of the path's table or function under the request's profile, and the
    profile (None: none asked for)."""
    profile = requested_profile(request)
    if profile is None or profile == default_schema(service) or "." in name:
        return name, profile
    return f"{profile}.{name}", profile


def exposed_schemas(live: LiveService) -> list[str]:
    if live.config.schema:
        return [live.config.schema]
    found = {t.schema for t in live.schema().tables.values()}
    catalog = live.routines()
    for by_name in catalog.routines.values():
        found.update(r.schema for overloads in by_name.values() for r in overloads)
    return ["public", *sorted(found - {"public"})]


def check_profile(profile: str | None, live: LiveService) -> str:
    """The schema the request reads or writes; 406 PGRST106 for one the service does not
    expose."""
    if profile is None:
        return live.config.schema or "public"
    exposed = exposed_schemas(live)
    if profile not in exposed:
        raise SchemaNotExposed(
            "Invalid schema: " + profile[:63],
            context={
                "pgrst": "PGRST106",
                "hint": "Only the following schemas are exposed: " + ", ".join(exposed),
            },
        )
    return profile
