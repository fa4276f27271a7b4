"""ApiMiddleware: answers every /api/ and /rest/ request itself, ahead of the admin's
middleware stack.

The data API skips sessions, CSRF, auth and messages entirely (they are for the admin console);
the system API is dispatched to its DRF views through gateway/api_urls.py. Any exception that
escapes is rendered as the error envelope, never as an HTML page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from core.context import begin, finish
from core.context import current as current_context
from core.environ_request import RequestLike
from core.errors import InternalError, NotFound, UriTooLong
from core.responses import Answer, ApiResponse
from gateway import cors
from gateway.postgrest.views import rest_api
from gateway.views import data_api, error_response

log = logging.getLogger("gateway")

_SYSTEM_PREFIXES = ("/api/v2/system/", "/api/v2/user/", "/api/v2/api_docs")
_SYSTEM_ROOTS = ("/api/v2", "/api", "/api/v2/system", "/api/v2/user")


def is_system_path(path: str) -> bool:
    """System API paths (DRF) under /api/, as opposed to a service's data API."""
    return path.startswith(_SYSTEM_PREFIXES) or path.rstrip("/") in _SYSTEM_ROOTS


def is_data_path(path: str) -> bool:
    """The data APIs: a service's `/api/v2/...` and the PostgREST dialect's `/rest/...`."""
    return path.startswith("/rest/") or (path.startswith("/api/") and not is_system_path(path))


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info
        if not path.startswith(("/api/", "/rest/")):
            return self.get_response(request)
        response = serve_api(request)
        return response.as_django() if isinstance(response, ApiResponse) else response


def serve_api(request: RequestLike) -> Answer:
    """Every /api/ request: CORS preflight, the system or data API, then the common headers;
    the request's context (gateway/context.py) goes to the observers (audit, metrics)."""
    context, token = begin(request)
    response: Answer | None = None
    try:
        response = cors.preflight(request)
        context.preflight = response is not None
        if response is None:
            path = request.path_info
            too_long = _url_too_long(request)
            if too_long is not None:
                response = error_response(too_long)
            elif is_system_path(path) and isinstance(request, HttpRequest):
                response = _system(request, path)
            elif path.startswith("/rest/"):
                response = rest_api(request)
            else:
                response = data_api(request)
        return cors.finish(request, response)
    finally:
        if response is None:  # only a BaseException escapes _system() and data_api()
            response = HttpResponse(status=500)
        finish(context, token, response)


def _url_too_long(request: RequestLike) -> UriTooLong | None:
    """URLs over GATEWAY_MAX_URL_BYTES get the envelope (the servers' own limits, 64 KiB for
    granian, answer bare 414s; keep ours below them)."""
    size = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
    limit = settings.GATEWAY_MAX_URL_BYTES
    if size <= limit:
        return None
    return UriTooLong(
        f"The request URL is {size} bytes long; the limit is {limit} bytes. Send long "
        "filters or id lists in a POST body with the header X-HTTP-Method: GET.",
        context={"max_url_bytes": limit},
    )


def _system(request: HttpRequest, path: str) -> HttpResponse:
    context = current_context()
    if context is not None:  # "system", "user" or "api_docs", and the rest of the path
        parts = path.removeprefix("/api").removeprefix("/v2").strip("/").split("/", 1)
        context.service = parts[0] or None
        context.resource = parts[1] if len(parts) > 1 else ""
    try:
        match = resolve(path, urlconf="gateway.api_urls")
    except Resolver404:
        return error_response(NotFound(f"No system API resource at {path}."))
    try:
        response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        if hasattr(response, "render"):
            response.render()
        return response
    except Exception as exc:
        log.exception("unhandled error in system API request %s %s", request.method, path)
        error = InternalError("An internal error occurred; it has been logged.")
        error.cause = type(exc).__name__
        return error_response(error)
