"""`GET /api/v2`: the services the caller may reach, and the service types (spec §2.1)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.credentials import extract_credentials
from rbac.policy import authenticate, reaches
from services.models import Service
from services.system.service_types import SERVICE_TYPES, directory_entry

SERVICE_KEYS = ("id", "name", "label", "description", "type", "spec_url")


class ServiceDirectory(APIView):
    """GET /api/v2: the services the caller may reach, and the service types (spec §2.1)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        """`group` and `type` narrow both lists; `fields` picks the services' keys."""
        principal = authenticate(extract_credentials(request._request))  # bad tokens fail
        params = request.query_params
        group = (params.get("group") or "").lower()
        kind = (params.get("type") or "").lower()
        types = [
            directory_entry(name)
            for name, record in SERVICE_TYPES.items()
            if (not group or record["group"].lower() == group) and (not kind or name == kind)
        ]
        type_names = {t["name"] for t in types}
        services = [
            s
            for s in Service.objects.filter(is_active=True)
            if s.type in type_names and reaches(principal, s.pk)
        ]
        fields = {f.strip() for f in (params.get("fields") or "").split(",") if f.strip()}
        keys = (
            SERVICE_KEYS
            if not fields or "*" in fields
            else [k for k in SERVICE_KEYS if k in fields]
        )
        return Response(
            {
                "services": [{key: _value(s, key) for key in keys} for s in services],
                "service_types": types,
            }
        )


def _value(service: Service, key: str) -> Any:
    if key == "id":
        return service.pk
    if key == "spec_url":
        return f"/api/v2/{service.name}/_spec"
    return getattr(service, key)
