"""Admin console for services: branding, the dashboard, and the Service form (issue #4).

The password is write-only: the form never renders it and a blank entry keeps the stored one.
The "Test connection", "Schema" and data browser pages live in services/system/admin_views.py.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html

from services.field_groups import CONNECTION_FIELDS, FIELD_LABELS, INFO_FIELDS, OPTION_FIELDS
from services.models import DATABASE_TYPE, Service
from services.system import admin_views, live_state

admin.site.site_header = "pg-gateway admin"
admin.site.site_title = "pg-gateway admin"
admin.site.index_title = "Dashboard"

_default_index = admin.site.index
DASHBOARD_SERVICES = 50  # probed on each dashboard view; the service list has the rest


def _dashboard_index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
    """The stock index plus the services block of templates/admin/index.html.

    The default site is kept (INSTALLED_APPS names plain django.contrib.admin), so the dashboard
    data is added by wrapping its index view rather than by an AdminSite subclass.
    """
    services = None
    if request.user.has_perm("services.view_service"):
        services = [
            (service, live_state.probe(service))
            for service in Service.objects.databases()[:DASHBOARD_SERVICES]
        ]
    context = {"dashboard_services": services, **(extra_context or {})}
    return _default_index(request, context)


admin.site.index = _dashboard_index  # type: ignore[method-assign]  # the dashboard is the index


class ServiceForm(forms.ModelForm):
    """The Service form with a write-only password."""

    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: leave blank to keep the stored password.",
    )
    clear_password = forms.BooleanField(
        required=False, label="Clear password", help_text="Remove the stored password."
    )

    class Meta:
        model = Service
        fields = (*INFO_FIELDS, *CONNECTION_FIELDS, "schema", *OPTION_FIELDS)
        labels = FIELD_LABELS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not (self.instance.pk and self.instance.password):  # nothing stored to keep
            self.fields["password"].help_text = "Write-only: never shown again once saved."

    def clean_password(self) -> str:
        entered: str = self.cleaned_data.get("password") or ""
        if not entered and self.instance.pk:
            return str(self.instance.password or "")
        return entered

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("clear_password"):
            cleaned["password"] = ""
        return cleaned


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceForm
    change_form_template = "admin/services/service/change_form.html"
    list_display = ("name", "label", "status", "endpoint", "schema", "last_modified_date")
    list_display_links = ("name", "label")
    list_filter = ("is_active",)
    search_fields = ("name", "label", "host", "database")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        """Database services; sign-in providers have their own pages (rbac.provider_admin)."""
        services: QuerySet[Service] = super().get_queryset(request).filter(type=DATABASE_TYPE)
        return services

    fieldsets = (
        ("Info", {"fields": INFO_FIELDS}),
        (
            "Connection",
            {
                "fields": (
                    ("host", "port"),
                    "database",
                    "username",
                    ("password", "clear_password"),
                    "schema",
                    ("sslmode", "sslrootcert"),
                    "timezone",
                    "application_name",
                    "statement_timeout",
                    ("pool_min", "pool_max"),
                )
            },
        ),
        (
            "Options",
            {"fields": OPTION_FIELDS},
        ),
    )

    @admin.display(description="Status", ordering="is_active")
    def status(self, obj: Service) -> str:
        problem = obj.problem()
        if problem:  # e.g. a password stored under another encryption key
            return format_html(
                '<strong class="service-status broken" style="color: #b71c1c">broken</strong>'
                "<br><small>{}</small>",
                problem,
            )
        state, color = ("active", "#2e7d32") if obj.is_active else ("inactive", "#b71c1c")
        return format_html(
            '<strong class="service-status {}" style="color: {}">{}</strong>', state, color, state
        )

    @admin.display(description="Server", ordering="host")
    def endpoint(self, obj: Service) -> str:
        return f"{obj.host}:{obj.port}/{obj.database}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        service = self.get_object(request, object_id)
        if service is not None and request.method == "GET" and (problem := service.problem()):
            messages.warning(request, f"This service cannot serve requests: {problem}.")
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        custom = [
            path(
                "test-connection/",
                wrap(self.test_connection_view),
                name="{}_{}_test_new_connection".format(*info),
            ),
            path(
                "<path:object_id>/test-connection/",
                wrap(self.test_connection_view),
                name="{}_{}_test_connection".format(*info),
            ),
            path(
                "<path:object_id>/schema/",
                wrap(self.schema_view),
                name="{}_{}_schema".format(*info),
            ),
            path(
                "<path:object_id>/data/<path:table>/",
                wrap(self.data_view),
                name="{}_{}_data".format(*info),
            ),
        ]
        return custom + super().get_urls()

    def get_fieldsets(self, request: HttpRequest, obj: Service | None = None) -> Any:
        """No "Clear password" box while no password is stored."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.password:
            return fieldsets
        return [
            (name, {**options, "fields": [_without_clear(f) for f in options["fields"]]})
            for name, options in fieldsets
        ]

    def test_connection_view(
        self, request: HttpRequest, object_id: str | None = None
    ) -> HttpResponse:
        return admin_views.test_connection(self, request, object_id)

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        """Save, then run the form's connection test: a failure warns, it does not block."""
        super().save_model(request, obj, form, change)
        if obj.is_active:
            admin_views.warn_if_unreachable(request, obj)

    def schema_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return admin_views.schema(self, request, object_id)

    def data_view(self, request: HttpRequest, object_id: str, table: str) -> HttpResponse:
        return admin_views.data_browser(self, request, object_id, table)


def _without_clear(entry: Any) -> Any:
    if entry == ("password", "clear_password"):
        return "password"
    return entry
