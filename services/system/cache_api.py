"""System API for the cache (spec §11): `/api/v2/system/cache` lists the services whose cache
can be cleared and clears every service's cached reads; `/api/v2/system/cache/{service}`
clears one service's cached reads and schema cache. Rate-limit counters are not touched."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotFound
from services.execution import read_cache
from services.models import Service
from services.registry import registry


class CacheView(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        wanted = {f.strip() for f in request.query_params.get("fields", "").split(",")}
        every = "*" in wanted
        records: list[dict[str, Any]] = []
        for service in Service.objects.databases():
            record: dict[str, Any] = {"name": service.name}
            for field in ("label", "description", "type"):
                if every or field in wanted:
                    record[field] = getattr(service, field)
            records.append(record)
        return Response({"resource": records})

    @extend_schema(responses={200: dict})
    def delete(self, request: Request) -> Response:
        read_cache.invalidate_all()
        return Response({"success": True})


class ServiceCacheView(APIView):
    @extend_schema(responses={200: dict})
    def delete(self, request: Request, service: str) -> Response:
        found = Service.objects.databases().filter(name=service.lower()).first()
        if found is None:
            raise NotFound(f"Could not find a service for {service}")
        read_cache.invalidate_service(found.pk)
        live = registry.find(found.name)
        if live is not None and live.config.is_active:
            live.schema_changed()  # every process re-reads the schema too
        return Response({"success": True})
