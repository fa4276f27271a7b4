"""Read-only admin for the audit trail: filter, search, look, export as JSON lines. Reads the
audit store (Django's admin follows audit/router.py).

Never lets anyone add, change or delete an event here (retention and `purge_audit` delete).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

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


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "time",
        "service",
        "verb",
        "resource",
        "status",
        "duration_ms",
        "user_email",
        "app_name",
        "client",
    )
    list_filter = ("service", "verb", StatusClassFilter, "app_name", "is_admin")
    date_hierarchy = "time"
    search_fields = ("request_id", "resource", "user_email", "client")
    ordering = ("-time", "-id")
    list_per_page = 100
    show_full_result_count = False  # no second COUNT(*) over a large table
    actions = ["export_jsonl"]

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
