"""API documentation: `/api/v2/api_docs[/{service}]` (JSON, spec §12.3) and the Swagger UI page.

The JSON answers reuse the data pipeline (`_spec`), so the same authentication and RBAC apply;
the HTML page is for logged-in admin-console staff and never serves assets from a CDN.
"""

from __future__ import annotations

import orjson
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render

from core.credentials import extract_credentials, query_params
from core.errors import BadRequest, Forbidden, GatewayError
from core.responses import ApiResponse
from gateway import pipeline
from gateway.views import error_response
from rbac.policy import authenticate, require_credentials
from rbac.sessions import issue_token
from services.models import Service


def service_spec(request: HttpRequest, service: str) -> HttpResponseBase:
    """GET /api/v2/api_docs/{service}: the service's OpenAPI document, as `_spec` answers it."""
    try:
        if request.method != "GET":
            raise BadRequest(f"The {request.method} verb is not supported on api_docs.")
        answer = pipeline.handle(request, service, "_spec")
        return answer.as_django() if isinstance(answer, ApiResponse) else answer
    except GatewayError as exc:
        return error_response(exc)


def spec_list(request: HttpRequest) -> HttpResponse:
    """GET /api/v2/api_docs: every active service with the URL of its document (admins only)."""
    try:
        if request.method != "GET":
            raise BadRequest(f"The {request.method} verb is not supported on api_docs.")
        principal = authenticate(extract_credentials(request, query_params(request)))
        require_credentials(principal)
        if not principal.is_admin:
            raise Forbidden("Access Forbidden. Only administrators may list the API documents.")
    except GatewayError as exc:
        return error_response(exc)
    resource = [
        {"name": s.name, "label": s.label, "spec_url": f"/api/v2/api_docs/{s.name}"}
        for s in Service.objects.databases().filter(is_active=True).order_by("name")
    ]
    return HttpResponse(orjson.dumps({"resource": resource}), content_type="application/json")


@staff_member_required
def docs_page(request: HttpRequest, service: str) -> HttpResponse:
    """Swagger UI for one service, pre-authorized with a fresh session token for this user.

    An unknown name, a sign-in provider or an inactive service answers 404 with a link to the
    docs index rather than a page that cannot load its document.
    """
    found = Service.objects.databases().filter(name=service).only("is_active").first()
    if found is None or not found.is_active:
        reason = (
            f'No database service is named "{service}".'
            if found is None
            else f'The service "{service}" is inactive; activate it in the admin console first.'
        )
        context = {"service": service, "reason": reason}
        return render(request, "site/docs_missing.html", context, status=404)
    token, _expires = issue_token(request.user, issuer=request.build_absolute_uri())
    config = {
        "service": service,
        "spec_url": f"/api/v2/api_docs/{service}",
        "token": token,
    }
    response = render(request, "gateway/api_docs.html", {"service": service, "config": config})
    response["Cache-Control"] = "no-store"  # the page embeds a session token
    return response
