"""Thin entry points: the data API front door, health, and the catch-all error renderer."""

from __future__ import annotations

import logging
import re

from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from gateway import pipeline
from gateway.errors import GatewayError, InternalError, NotFound, render_error

log = logging.getLogger("gateway")

# /api/v2/{service}/{resource...} and /api/{service}/... (spec §1.1)
DATA_PATH = re.compile(r"^/api/(?:v[0-9.]+/)?(?P<service>[_0-9a-zA-Z.-]+)(?:/(?P<resource>.*))?$")


def error_response(error: GatewayError) -> HttpResponse:
    response = HttpResponse(
        render_error(error), status=error.status, content_type="application/json"
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def data_api(request: HttpRequest) -> HttpResponseBase:
    """Every /api/v2/<service>/... request that is not the system API."""
    match = DATA_PATH.match(request.path_info)
    if match is None:
        return error_response(NotFound("No such API resource."))
    resource = (match.group("resource") or "").replace("..", "")
    try:
        return pipeline.handle(request, match.group("service"), resource)
    except GatewayError as exc:
        return error_response(exc)
    except Exception:
        log.exception("unhandled error in data API request %s %s", request.method, request.path)
        return error_response(InternalError("An internal error occurred; it has been logged."))


def health(request: HttpRequest) -> HttpResponse:
    """Process up and metadata DB reachable."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return HttpResponse(
            b'{"status":"unavailable"}', status=503, content_type="application/json"
        )
    return HttpResponse(b'{"status":"ok"}', content_type="application/json")
