"""System API for services (`/api/v2/system/service`, spec §9), in DreamFactory's record format.

Records are `{id, name, label, description, is_active, type, config: {...}}`; the password is
write-only (answered as `**********`; writing the mask back keeps the stored one).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BadRequest
from core.system_records import RecordResource, views_for
from services.config import ServiceConfig
from services.db.executor import test_connection
from services.field_groups import CONNECTION_FIELDS, INFO_FIELDS, OPTION_FIELDS
from services.models import MASKED_PASSWORD, Service

# DF's `config` object: every setting but the INFO ones (`charset` is kept for DF clients)
CONFIG_FIELDS = (*CONNECTION_FIELDS, "schema", "charset", *OPTION_FIELDS)
SERVICE_TYPE = {
    "name": "pgsql",
    "label": "PostgreSQL",
    "group": "Database",
    "description": "Database service supporting PostgreSQL connections.",
}


class ServiceSerializer(serializers.ModelSerializer[Service]):
    """Validates the flat model fields; the DF record shape is handled by the views."""

    class Meta:
        model = Service
        fields = INFO_FIELDS + CONFIG_FIELDS

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        merged = {f: attrs.get(f, getattr(self.instance, f, None)) for f in self.Meta.fields}
        if (merged.get("pool_min") or 0) > (merged.get("pool_max") or 10):
            raise serializers.ValidationError({"pool_min": "pool_min may not exceed pool_max."})
        return attrs


def _flatten(record: Any, index: int | None = None) -> dict[str, Any]:
    """DF record -> flat model fields; a masked password means "unchanged"."""
    where = f" (record {index})" if index is not None else ""
    if not isinstance(record, dict):
        raise BadRequest(f"Each service record must be a JSON object{where}.")
    kind = record.get("type", "pgsql")
    if kind != "pgsql":
        raise BadRequest(f"Service type '{kind}' is not supported; this gateway serves 'pgsql'.")
    config = record.get("config") or {}
    if not isinstance(config, dict):
        raise BadRequest(f"config must be an object{where}.")
    flat = {k: record[k] for k in INFO_FIELDS if k in record}
    flat.update({k: config[k] for k in CONFIG_FIELDS if k in config})
    if flat.get("password") == MASKED_PASSWORD:
        flat.pop("password")
    for key in ("username", "password", "sslrootcert", "timezone", "charset", "description"):
        if key in flat and flat[key] is None:
            flat[key] = ""
    if flat.get("schema") is None and "schema" in flat:
        flat["schema"] = ""
    return flat


class ServiceResource(RecordResource):
    """Services in DF's record shape: the flat model fields travel in `config`."""

    model = Service
    serializer = ServiceSerializer
    record_fields = (
        "id",
        *INFO_FIELDS,
        "type",
        "created_date",
        "last_modified_date",
    )

    def to_record(self, obj: Service, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record.update(mutable=True, deletable=True)
        config = {f: getattr(obj, f) for f in CONFIG_FIELDS}
        config["password"] = MASKED_PASSWORD if obj.password else None
        record["config"] = config
        return record

    def write(self, record: dict[str, Any], instance: Service | None, request: Request) -> Service:
        # a new name moves the namespace: the registry follows the metadata version
        service: Service = self.validated(_flatten(record), instance)
        service.save()
        return service


service_collection, service_detail = views_for(ServiceResource(), "Service")


def _get(pk: int) -> Service:
    service: Service = ServiceResource().get(pk)
    return service


class ServiceTest(APIView):
    """POST /system/service/{id}/_test: try the stored settings (body `config` overrides them)."""

    @extend_schema(request=dict, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        service = _get(pk)
        data = request.data if isinstance(request.data, dict) else {}
        overrides = _flatten({"config": data.get("config") or {}})
        # checked as a PATCH would check them (400 naming the field), but not saved
        service = ServiceResource().validated(overrides, service)
        return Response(test_connection(ServiceConfig.from_model(service)))


class ServiceTypes(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"resource": [SERVICE_TYPE]})
