"""The admin's per-service pages: "Test connection" (POST) and the read-only "Schema" view.

Both run inside ServiceAdmin.get_urls() behind admin_view (staff login, CSRF on); they only
read the database through the service's pool or one direct connection, never change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import reverse

from core.errors import GatewayError
from services.catalog.routines import Routine, RoutineKind
from services.catalog.schema_cache import Table
from services.config import ServiceConfig
from services.db import executor
from services.models import Service
from services.registry import LiveService, registry

# the views take the Service ModelAdmin that mounts them (services/admin.py); the stubs make
# ModelAdmin generic, Django itself does not
if TYPE_CHECKING:
    ServiceAdmin = admin.ModelAdmin[Service]
else:
    ServiceAdmin = admin.ModelAdmin


@dataclass(frozen=True, slots=True)
class ColumnRow:
    name: str
    db_type: str
    nullable: bool
    primary_key: bool
    foreign_key: str


def _service(model_admin: ServiceAdmin, request: HttpRequest, object_id: str) -> Service:
    service: Service | None = model_admin.get_object(request, object_id)
    if service is None:
        raise Http404(f"Service with ID {object_id!r} does not exist.")
    return service


def test_connection(
    model_admin: ServiceAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Connect once with the stored settings and report the server version or what to fix."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    service = _service(model_admin, request, object_id)
    if not model_admin.has_change_permission(request, service):
        raise PermissionDenied
    try:
        result = executor.test_connection(ServiceConfig.from_model(service))
    except GatewayError as exc:
        messages.error(request, f"{service.name}: {exc.message}")
    else:
        messages.success(
            request, f"{service.name}: connection succeeded. {result['server_version']}"
        )
    return HttpResponseRedirect(reverse("admin:services_service_change", args=[service.pk]))


def _fk_targets(table: Table) -> dict[str, str]:
    targets: dict[str, str] = {}
    for relation in table.relations:
        if relation.type != "belongs_to":
            continue
        for column, ref in zip(relation.fields, relation.ref_fields, strict=False):
            targets[column] = f"{relation.ref_table}.{ref}"
    return targets


def _table_rows(table: Table) -> list[ColumnRow]:
    targets = _fk_targets(table)
    return [
        ColumnRow(
            name=c.name,
            db_type=c.db_type,
            nullable=c.nullable,
            primary_key=c.is_primary_key,
            foreign_key=targets.get(c.name, ""),
        )
        for c in table.columns
    ]


def _routines(live: LiveService, refresh: bool) -> list[Routine]:
    catalog = live.routines(refresh=refresh)  # the same catalog the API uses
    found: list[Routine] = []
    kinds: tuple[RoutineKind, ...] = ("function", "procedure")
    for kind in kinds:
        for name in catalog.names(kind):
            found.extend(catalog.routines[kind][name])
    return found


def schema(model_admin: ServiceAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    """Tables, views (with their columns) and routines of the service, read-only."""
    service = _service(model_admin, request, object_id)
    if not model_admin.has_view_permission(request, service):
        raise PermissionDenied
    refresh = request.GET.get("refresh") == "1"
    tables: list[dict[str, Any]] = []
    routines: list[Routine] = []
    error = ""
    # An admin often opens this right after saving: don't wait for the metadata poll interval.
    registry.invalidate()
    try:
        live = registry.get(service.name)
        cache = live.schema(refresh=refresh)
        tables = [
            {"table": t, "kind": "view" if t.is_view else "table", "columns": _table_rows(t)}
            for t in cache.sorted_tables()
        ]
        routines = _routines(live, refresh)
    except GatewayError as exc:
        error = exc.message
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Schema of {service.name}",
        "subtitle": None,
        "opts": model_admin.opts,
        "original": service,
        "tables": tables,
        "routines": routines,
        "error": error,
    }
    return TemplateResponse(request, "admin/services/service/schema.html", context)
