"""Read-only admin for the audit trail: filter, search, look, export as JSON lines. Reads the
audit store (Django's admin follows audit/router.py).

Never lets anyone add, change or delete an event here (retention and `purge_audit` delete).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.html import format_html

from audit.export import lines, select
from audit.models import AuditEvent


class StatusClassFilter(admin.SimpleListFilter):
    """2xx, 3xx, 4xx or 5xx."""

    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(f"{n}xx", f"{n}xx") for n in (2, 3, 4, 5)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in {"2xx", "3xx", "4xx", "5xx"}:
            return queryset
        low = int(value[0]) * 100
        return queryset.filter(status__gte=low, status__lt=low + 100)


RESOURCE_WIDTH = 40  # characters of a request's path shown in the list


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("when", "request", "status", "duration_ms", "caller")
    list_filter = ("service", "verb", StatusClassFilter, "app_name", "is_admin")
    date_hierarchy = "time"
    search_fields = ("request_id", "resource", "user_email", "client")
    ordering = ("-time", "-id")
    list_per_page = 100
    show_full_result_count = False  # no second COUNT(*) over a large table
    actions = ["export_jsonl"]

    @admin.display(description="Time (UTC)", ordering="time")
    def when(self, obj: AuditEvent) -> str:
        return obj.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Request", ordering="resource")
    def request(self, obj: AuditEvent) -> str:
        """`GET shop/_table/orders`, long paths cut to keep the list within a laptop's width
        (the whole path in the tooltip and on the event's page)."""
        path = f"{obj.service}/{obj.resource}" if obj.service else obj.resource or ""
        shown = path if len(path) <= RESOURCE_WIDTH else path[: RESOURCE_WIDTH - 1] + "…"
        return format_html('<span title="{}">{} {}</span>', path, obj.verb, shown)

    @admin.display(description="Caller", ordering="user_email")
    def caller(self, obj: AuditEvent) -> str:
        """Who: the user's email or the app, and the client address."""
        who = obj.user_email or obj.app_name or "anonymous"
        return format_html("{}<br><small>{}</small>", who, obj.client or "")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Export selected events as JSON lines", permissions=["view"])
    def export_jsonl(
        self, request: HttpRequest, queryset: QuerySet[AuditEvent]
    ) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            lines(select(queryset=queryset)), content_type="application/x-ndjson"
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.jsonl"'
        return response
