"""The site's own pages outside the admin: the landing page at `/` and the API docs index."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from services.models import Service


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    """GET /: what this server is and where to go next (no login, no secrets)."""
    links = [
        (reverse("admin:index"), "Admin console", "services, roles, apps, users, limits"),
        (reverse("docs-index"), "API docs", "each service's OpenAPI document and Swagger UI"),
        (reverse("health"), "Health", "liveness check (JSON)"),
    ]
    return render(request, "site/landing.html", {"links": links})


@staff_member_required
@require_safe
def docs_index(request: HttpRequest) -> HttpResponse:
    """GET /docs/: the database services with a link to each one's docs page (staff only)."""
    services = Service.objects.databases().order_by("name").only("name", "label", "is_active")
    response = render(request, "site/docs_index.html", {"services": list(services)})
    response["Cache-Control"] = "no-store"
    return response
