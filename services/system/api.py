"""System API for services (`/api/v2/system/service`, spec §9), in DreamFactory's record format.

Records are `{id, name, label, description, is_active, type, mutable, deletable, config: {...}}`;
writes take that shape or the flat one (the settings beside `name`). The password is write-only
(answered as `**********`; writing the mask back keeps the stored one).
"""

from __future__ import annotations

from typing import Any, cast

from django.db import models, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BadRequest
from core.flags import as_bool
from core.records import REACHABLE_SERVICES
from core.system_records import RecordResource, views_for
from services.config import ServiceConfig
from services.db.executor import test_connection
from services.field_groups import INFO_FIELDS
from services.models import MASKED_PASSWORD, Service
from services.system.service_types import (
    CONFIG_FIELDS,
    PROVIDERS,
    REQUIRED_CONFIG,
    SERVICE_TYPES,
    check_type,
    directory_entry,
    service_type,
)

SERVICE_TYPE = directory_entry("pgsql")  # the directory's short form (gateway/directory.py)
_BLANK_WHEN_NULL = ("label", "description", "schema")  # `schema` blank: every schema


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


def _default(name: str) -> Any:
    """What a `null` setting stands for: the field's default ("" for text without one)."""
    field = cast("models.Field[Any, Any]", Service._meta.get_field(name))
    return field.get_default() if field.has_default() else ""


def _flatten(record: Any, instance: Service | None = None) -> dict[str, Any]:
    """A record in DF's shape (settings in `config`) or the flat one (settings beside `name`;
    `config` wins where both say) -> the model's fields. A masked password means "unchanged";
    `null` means the setting's default; `type` must be a supported one."""
    if not isinstance(record, dict):
        raise BadRequest("Each service record must be a JSON object.")
    if "type" in record or instance is None:
        check_type(record.get("type", "pgsql"))
    config = record.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise BadRequest("config must be an object of the service's settings.")
    if config.get("statements"):
        raise BadRequest(
            "config.statements (SQL run on each new connection) is not supported; "
            "set the schema with config.schema and session settings on the database role."
        )
    flat = {k: record[k] for k in INFO_FIELDS if k in record}
    flat.update({k: record[k] for k in CONFIG_FIELDS if k in record})
    flat.update({k: config[k] for k in CONFIG_FIELDS if k in config})
    if flat.get("password") == MASKED_PASSWORD:
        flat.pop("password")
    for key in [k for k, v in flat.items() if v is None and k not in ("name", "is_active")]:
        flat[key] = "" if key in _BLANK_WHEN_NULL else _default(key)
    if flat.get("is_active", True) is None:
        flat.pop("is_active")
    return flat


def _require_connection(flat: dict[str, Any], instance: Service | None) -> None:
    """Spec §9.3: host and database are required (on create, and never blanked later)."""
    for key in REQUIRED_CONFIG:
        value = flat.get(key, getattr(instance, key, None) if instance is not None else None)
        if not value or (isinstance(value, str) and not value.strip()):
            raise BadRequest(
                "Database connection information must contain at least host and database name."
            )


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

    def visible(self, rows: Any, request: Request) -> Any:
        """A non-admin granted `system/service` sees only the services its role reaches
        (rbac.system_access notes them on the request; admins: every service)."""
        reachable = getattr(request, REACHABLE_SERVICES, None)
        return rows if reachable is None else rows.filter(pk__in=reachable)

    def to_record(self, obj: Service, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record.update(mutable=True, deletable=True)
        provider = PROVIDERS.get(obj.type)
        if provider is not None:
            record["config"] = provider.config(obj)
            return record
        config = {f: getattr(obj, f) for f in CONFIG_FIELDS}
        config["password"] = MASKED_PASSWORD if obj.password else None
        record["config"] = config
        return record

    def write(self, record: dict[str, Any], instance: Service | None, request: Request) -> Service:
        kind = _kind(record, instance)
        if kind in PROVIDERS:
            return self._write_provider(kind, record, instance)
        # a new name moves the namespace: the registry follows the metadata version
        flat = _flatten(record, instance)
        _require_connection(flat, instance)
        service: Service = self.validated(flat, instance)
        service.save()
        return service

    def _write_provider(
        self, kind: str, record: dict[str, Any], instance: Service | None
    ) -> Service:
        """A sign-in provider: the Service row's own fields here, its `config` in rbac."""
        config = record.get("config")
        if config is None:
            config = {k: v for k, v in record.items() if k not in (*INFO_FIELDS, "type", "id")}
        if not isinstance(config, dict):
            raise BadRequest("config must be an object of the service's settings.")
        info = {k: record[k] for k in INFO_FIELDS if record.get(k) is not None}
        info.update({k: "" for k in ("label", "description") if k in record and record[k] is None})
        with transaction.atomic():
            service: Service = self.validated(info, instance)
            service.type = kind
            service.save()
            PROVIDERS[kind].write(service, config, creating=instance is None)
        return service


def _kind(record: Any, instance: Service | None) -> str:
    """The record's type: a new one's (pgsql when not said), an existing one's (never changed)."""
    if not isinstance(record, dict):
        raise BadRequest("Each service record must be a JSON object.")
    if instance is None:
        return check_type(record.get("type", "pgsql"))
    if "type" in record and record["type"] != instance.type:
        check_type(record["type"])
        raise BadRequest(
            f"A service's type cannot change (service '{instance.name}' is {instance.type}); "
            "create a new service instead."
        )
    return instance.type


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
        provider = PROVIDERS.get(service.type)
        if provider is not None:
            config = data.get("config") or {}
            if not isinstance(config, dict):
                raise BadRequest("config must be an object of the service's settings.")
            return Response(provider.test(service, config))
        overrides = _flatten({"config": data.get("config") or {}}, service)
        _require_connection(overrides, service)
        # checked as a PATCH would check them (400 naming the field), but not saved
        service = ServiceResource().validated(overrides, service)
        return Response(test_connection(ServiceConfig.from_model(service)))


class ServiceTypes(APIView):
    """GET /system/service_type: the types served (`group` narrows, `as_list=true` names only,
    `fields` picks keys)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        params = request.query_params
        types = list(SERVICE_TYPES.values())
        group = params.get("group")
        if group:
            types = [t for t in types if t["group"].lower() == group.lower()]
        if as_bool(params.get("as_list", "")):
            return Response({"resource": [t["name"] for t in types]})
        return Response({"resource": [_pick(t, params.get("fields")) for t in types]})


class ServiceTypeDetail(APIView):
    """GET /system/service_type/{name}: one type's record (404 naming the supported ones)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, name: str) -> Response:
        return Response(_pick(service_type(name), request.query_params.get("fields")))


def _pick(record: dict[str, Any], fields: str | None) -> dict[str, Any]:
    wanted = {f.strip() for f in (fields or "").split(",") if f.strip()}
    if not wanted or "*" in wanted:
        return record
    return {k: v for k, v in record.items() if k in wanted}
