"""The admin's per-service pages: "Test connection" on the form's values (POST), the
read-only "Schema" view and the per-table data browser.

They run inside ServiceAdmin.get_urls() behind admin_view (staff login, CSRF on); they only
read the database through the service's pool or one direct connection, never change it (the
data browser's writes go through the data API, from the page's script).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.utils.cache import patch_cache_control

from core import verbs
from core.errors import GatewayError
from services.catalog.routines import Routine, RoutineKind
from services.catalog.schema_cache import Column, Table
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
    model_admin: ServiceAdmin, request: HttpRequest, object_id: str | None
) -> JsonResponse:
    """Connect once with the settings the form holds now (not saved; a blank password means the
    stored one) and answer `{"ok", "level", "message"}` for the page to show. The Add and
    Change pages post their form here before saving."""
    if request.method != "POST":
        return JsonResponse({"ok": False, "message": "POST the service form."}, status=405)
    service = _service(model_admin, request, object_id) if object_id else None
    allowed = (
        model_admin.has_change_permission(request, service)
        if service is not None
        else model_admin.has_add_permission(request)
    )
    if not allowed:
        raise PermissionDenied
    form_class = model_admin.get_form(request, service, change=service is not None)
    form = form_class(request.POST, instance=service)
    if not form.is_valid():
        problems = "; ".join(
            " ".join(map(str, errors))
            if name == "__all__"
            else f"{name}: {' '.join(map(str, errors))}"
            for name, errors in form.errors.items()
        )
        return JsonResponse({"ok": False, "level": "error", "message": f"Not tested: {problems}"})
    candidate = form.save(commit=False)  # the form's values on an unsaved object
    ok, message = connection_message(candidate)
    return JsonResponse({"ok": ok, "level": "success" if ok else "error", "message": message})


def connection_message(service: Service) -> tuple[bool, str]:
    """Whether `service`'s settings connect, and the sentence that says so."""
    name = service.name or "the service"
    try:
        result = executor.test_connection(ServiceConfig.from_model(service))
    except GatewayError as exc:
        return False, f"{name}: {exc.message}"
    return True, f"{name}: connection succeeded. {result['server_version']}"


def warn_if_unreachable(request: HttpRequest, service: Service) -> None:
    """After a save: the same test, as a warning that does not undo the save."""
    ok, message = connection_message(service)
    if not ok:
        messages.warning(request, f"Saved, but the connection test failed. {message}")


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


# services sit below rbac (import-linter layers): rbac's ready() hands over its token issuer
TokenIssuer = Callable[..., tuple[str, Any]]
_token_issuer: list[TokenIssuer] = []


def set_token_issuer(issue: TokenIssuer) -> None:
    """How the data browser gets a session token for the signed-in admin (rbac.sessions)."""
    _token_issuer[:] = [issue]


def _session_token(request: HttpRequest) -> str:
    """A fresh data-API session token for the signed-in staff user."""
    if not _token_issuer:
        raise ImproperlyConfigured("No session token issuer: rbac's ready() sets it.")
    token, _expires = _token_issuer[0](request.user, issuer=request.build_absolute_uri())
    return str(token)


def _browser_column(column: Column) -> dict[str, Any]:
    """What the data browser's script needs to know about one column."""
    structured = column.is_array or column.base_type in ("json", "jsonb")
    return {
        "name": column.name,
        "db_type": column.db_type,
        "kind": "json" if structured else column.simple_type,
        "nullable": column.nullable,
        "primary_key": column.is_primary_key,
        "auto": column.auto_increment or column.is_generated,
        "read_only": column.is_generated,
        "has_default": column.default is not None or column.auto_increment,
    }


def data_browser(
    model_admin: ServiceAdmin, request: HttpRequest, object_id: str, table_name: str
) -> HttpResponse:
    """A paged, filterable grid of one table or view, read and written through the data API.

    The page's script calls `/api/v2/<service>/_table/<table>` with a fresh session token of the
    signed-in staff user (embedded in the page, hence no-store), so the admin sees what the API
    answers, errors included. An unknown service or table is a 404.
    """
    service = _service(model_admin, request, object_id)
    if not model_admin.has_view_permission(request, service):
        raise PermissionDenied
    table: Table | None = None
    error = ""
    registry.invalidate()  # opened from the Schema page, maybe right after a change
    try:
        table = registry.get(service.name).schema().find_table(table_name)
    except GatewayError as exc:
        error = exc.message
    if table is None and not error:
        raise Http404(f"No table or view {table_name!r} in the service {service.name!r}.")
    config: dict[str, Any] = {}
    if table is not None:
        config = {
            "service": service.name,
            "table": table.name,
            "url": f"/api/v2/{quote(service.name, safe='')}/_table/{quote(table.name, safe='')}",
            "columns": [_browser_column(c) for c in table.columns],
            "primary_key": list(table.primary_key),
            "can_create": bool(table.verbs & verbs.POST),
            "can_update": bool(table.primary_key) and bool(table.verbs & verbs.PATCH),
            "can_delete": bool(table.primary_key) and bool(table.verbs & verbs.DELETE),
            "token": _session_token(request),
        }
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Data of {table.name if table else table_name}",
        "subtitle": None,
        "opts": model_admin.opts,
        "original": service,
        "table": table,
        "table_name": table.name if table else table_name,
        "kind": "view" if table is not None and table.is_view else "table",
        "config": config,
        "error": error,
    }
    response = TemplateResponse(request, "admin/services/service/data_browser.html", context)
    patch_cache_control(response, no_store=True)  # the page embeds a session token
    return response
