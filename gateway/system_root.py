"""`GET /api/v2/system`: the system service's resources, as any service root lists its own
(spec §2.2: `{"resource": [{"name": ...}]}`; `fields=*` adds `label`; `as_list=true` gives the
names). The list is read from the system routes in gateway/api_urls.py, so a resource added
there is listed without a change here.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.flags import as_bool

_SYSTEM_ROUTE = re.compile(r"^\^?api(?:/v2|\(\?:/v2\)\?)?/system/([a-z_]+)(?:[/$?]|$)")
# DreamFactory's labels for its system resources; others get their name in title case
LABELS = {
    "admin": "Administrators",
    "app": "Apps",
    "cache": "Cache",
    "cors": "CORS",
    "environment": "Environment",
    "import": "Import",
    "limit": "Limits",
    "limit_cache": "Limit Cache",
    "lookup": "Global Lookup Keys",
    "package": "Packages",
    "role": "Roles",
    "service": "Services",
    "service_type": "Service Types",
    "user": "Users",
}


@cache
def system_resources() -> tuple[str, ...]:
    """The first path segment of every `system/...` route, sorted by name."""
    found: set[str] = set()
    for entry in get_resolver("gateway.api_urls").url_patterns:
        if isinstance(entry, URLPattern | URLResolver):
            match = _SYSTEM_ROUTE.match(str(entry.pattern))
            if match:
                found.add(match.group(1))
    return tuple(sorted(found))


def _entry(name: str, fields: set[str]) -> dict[str, Any]:
    full = {"name": name, "label": LABELS.get(name, name.replace("_", " ").title())}
    if "*" in fields:
        return full
    return {k: v for k, v in full.items() if k == "name" or k in fields}


class SystemRoot(APIView):
    """GET /api/v2/system: the system resources (admin only, like the resources themselves)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        names = system_resources()
        if as_bool(request.query_params.get("as_list", "")):
            return Response({"resource": list(names)})
        fields = {f.strip() for f in request.query_params.get("fields", "").split(",")}
        return Response({"resource": [_entry(name, fields) for name in names]})
