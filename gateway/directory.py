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
from services.system.api import SERVICE_TYPE


class ServiceDirectory(APIView):
    """GET /api/v2: the services the caller may reach, and the service types (spec §2.1)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        principal = authenticate(extract_credentials(request._request))  # bad tokens fail
        services = [s for s in Service.objects.filter(is_active=True) if reaches(principal, s.pk)]
        return Response(
            {
                "services": [
                    {
                        "id": s.pk,
                        "name": s.name,
                        "label": s.label,
                        "description": s.description,
                        "type": s.type,
                        "spec_url": f"/api/v2/{s.name}/_spec",
                    }
                    for s in services
                ],
                "service_types": [SERVICE_TYPE],
            }
        )
