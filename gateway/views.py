"""Thin entry points: the data API front door, the catch-all error renderer, and the operations
endpoints (/health, /ready, /metrics) that live outside /api/ and take no API credentials.
"""

from __future__ import annotations

import hmac
import logging
import re
import time

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from core.context import note_error
from core.environ_request import RequestLike
from core.errors import (
    BadRequest,
    GatewayError,
    InternalError,
    NotAuthenticated,
    NotFound,
    render_error,
)
from core.responses import Answer
from gateway import metrics, pipeline, readiness

log = logging.getLogger("gateway")

# /api/v2/{service}/{resource...} and /api/{service}/... (spec §1.1)
DATA_PATH = re.compile(r"^/api/(?:v[0-9.]+/)?(?P<service>[_0-9a-zA-Z.-]+)(?:/(?P<resource>.*))?$")


def error_response(error: GatewayError) -> HttpResponse:
    note_error(error.message, error.cause or type(error).__name__)
    response = HttpResponse(
        render_error(error), status=error.status, content_type="application/json"
    )
    for name, value in error.headers.items():
        response[name] = value
    return response


def _timed(response: HttpResponse, started: float) -> HttpResponse:
    """A failed data API answer still tells how long it took (the stages time only successes)."""
    if "Server-Timing" not in response:
        response["Server-Timing"] = f"total;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


def data_api(request: RequestLike) -> Answer:
    """Every /api/v2/<service>/... request that is not the system API."""
    started = time.perf_counter()
    match = DATA_PATH.match(request.path_info)
    if match is None:
        return _timed(error_response(NotFound("No such API resource.")), started)
    resource = (match.group("resource") or "").replace("..", "")
    try:
        return pipeline.handle(request, match.group("service"), resource)
    except GatewayError as exc:
        return _timed(error_response(exc), started)
    except RecursionError:  # a value nested deeper than any check expected: still the client's
        too_deep = BadRequest("The request nests objects or arrays too deeply; flatten its values.")
        return _timed(error_response(too_deep), started)
    except Exception as exc:
        log.exception("unhandled error in data API request %s %s", request.method, request.path)
        error = InternalError("An internal error occurred; it has been logged.")
        error.cause = type(exc).__name__
        return _timed(error_response(error), started)


def _json(body: object, status: int = 200) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def health(request: HttpRequest) -> HttpResponse:
    """Liveness: the process is up and answers; no I/O, so a slow dependency never restarts it."""
    return _json({"status": "ok"})


@require_safe
def ready(request: HttpRequest) -> HttpResponse:
    """Readiness: the metadata database and the cache backend work (503 names what failed)."""
    results = readiness.run_checks()
    ok = all(r.ok for r in results)
    body = {
        "status": "ready" if ok else "unavailable",
        "checks": {r.name: r.as_dict() for r in results},
    }
    return _json(body, 200 if ok else 503)


def _bearer_matches(request: HttpRequest, expected: str) -> bool:
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition; behind `Authorization: Bearer` when GATEWAY_METRICS_TOKEN is set."""
    token = settings.GATEWAY_METRICS_TOKEN
    if token and not _bearer_matches(request, token):
        response = error_response(
            NotAuthenticated("/metrics needs the header Authorization: Bearer <metrics token>.")
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics.render(request.META.get("HTTP_ACCEPT", ""))
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response
