"""Admin console for apps: the API key is shown once, on the page that answers the save that
created it (or a regeneration), and never stored or rendered again; only its prefix shows.

The key page is rendered in the POST's own answer (no redirect), so the key never sits in a
session or a message queue.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from apikeys.api import new_key
from apikeys.models import App


@admin.register(App)
class AppAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "role", "api_key_prefix", "key_created_date")
    list_filter = ("is_active",)
    search_fields = ("name", "description", "api_key_prefix")
    fields = ("name", "description", "is_active", "role", "api_key_prefix", "key_created_date")
    readonly_fields = ("api_key_prefix", "key_created_date")
    change_form_template = "admin/apikeys/app/change_form.html"

    def save_model(self, request: HttpRequest, obj: App, form: Any, change: bool) -> None:
        if not change:
            new_key(obj)
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: App, post_url_continue: str | None = None
    ) -> HttpResponse:
        return self._key_page(request, obj, created=True)

    def _key_page(self, request: HttpRequest, app: App, *, created: bool) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "app": app,
            "api_key": getattr(app, "_shown_key", None),
            "created": created,
            "title": f"API key for {app.name}",
        }
        response = TemplateResponse(request, "admin/apikeys/app/api_key.html", context)
        response["Cache-Control"] = "no-store"  # the page holds the key
        return response

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        custom = [
            path(
                "<path:object_id>/regenerate-key/",
                wrap(self.regenerate_view),
                name="apikeys_app_regenerate_key",
            )
        ]
        return custom + super().get_urls()

    def regenerate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks for confirmation; POST issues a new key (the old one stops working)."""
        app = self.get_object(request, object_id)
        if app is None:
            raise Http404(f"App with ID {object_id!r} does not exist.")
        if not self.has_change_permission(request, app):
            raise PermissionDenied
        if request.method == "POST":
            new_key(app)
            app.save()
            self.log_change(request, app, "Regenerated the API key.")
        return self._key_page(request, app, created=False)
