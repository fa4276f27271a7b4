"""CORS for /api/ (spec §12.1, configured per instance) and the security headers every API
answer carries.

Hand-written rather than django-cors-headers: the data API's lean WSGI path skips Django's
middleware chain, so the same few lines must run on both paths. With CORS_ALLOWED_ORIGINS empty
(the default) no CORS header is ever sent; a preflight from an allowed origin answers 204 when
the method is allowed and 405 when it is not.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from core.environ_request import RequestLike
from core.responses import Answer

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def _allowed_origin(origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
    allowed = settings.CORS_ALLOWED_ORIGINS
    if not origin or not allowed:
        return None
    if "*" in allowed:
        return origin if settings.CORS_ALLOW_CREDENTIALS else "*"
    return origin if origin in allowed else None


def preflight(request: RequestLike) -> HttpResponse | None:
    """The answer to a CORS preflight, or None when the request is not one."""
    if request.method != "OPTIONS":
        return None
    method = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "").upper()
    if not method:
        return None
    response = HttpResponse(status=204)
    allow = _allowed_origin(request.META.get("HTTP_ORIGIN", ""))
    if allow is None:
        return response  # no CORS headers: the browser refuses the real request
    if method not in settings.CORS_ALLOWED_METHODS:
        response.status_code = 405
    response["Access-Control-Allow-Origin"] = allow
    response["Access-Control-Allow-Methods"] = ", ".join(settings.CORS_ALLOWED_METHODS)
    response["Access-Control-Allow-Headers"] = ", ".join(settings.CORS_ALLOWED_HEADERS)
    response["Access-Control-Max-Age"] = str(settings.CORS_MAX_AGE)
    if settings.CORS_ALLOW_CREDENTIALS:
        response["Access-Control-Allow-Credentials"] = "true"
    response["Vary"] = "Origin"
    return response


def finish(request: RequestLike, response: Answer) -> Answer:
    """Add the security headers, and the CORS headers for an allowed origin."""
    for name, value in SECURITY_HEADERS:
        response[name] = value
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        allow = _allowed_origin(origin)
        if allow is not None:
            response["Access-Control-Allow-Origin"] = allow
            response["Access-Control-Expose-Headers"] = ", ".join(settings.CORS_EXPOSE_HEADERS)
            if settings.CORS_ALLOW_CREDENTIALS:
                response["Access-Control-Allow-Credentials"] = "true"
            response["Vary"] = "Origin"
    return response
