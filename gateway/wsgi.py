"""WSGI entry point (granian / gunicorn).

Data API requests (`/api/v2/<service>/...`) go straight to gateway.middleware.serve_api with a
core.environ_request.EnvironRequest, skipping Django's handler: its per-request signals
(close_old_connections, cache and urlconf resets) and the middleware chain cost about as much
as our whole pipeline and do nothing for these requests. Successful answers come back as
core.responses.ApiResponse and go out as they are. Everything else (admin, system API,
health) is served by Django as usual, and ApiMiddleware routes data paths there too (the test
client's path).
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
django_application = get_wsgi_application()

from gateway.startup import preflight  # noqa: E402  (after Django is set up)

_problem = preflight()
if _problem is not None:  # the server exits: better than failing every request
    print(f"gateway: refusing to start: {_problem}", file=sys.stderr, flush=True)
    raise SystemExit(3)

from django.conf import settings  # noqa: E402  (after Django is set up)
from django.http import HttpResponse  # noqa: E402

from core.environ_request import EnvironRequest  # noqa: E402
from core.errors import PayloadTooLarge, render_error  # noqa: E402
from core.responses import ApiResponse  # noqa: E402
from gateway.middleware import is_data_path, serve_api  # noqa: E402
from gateway.postgrest.errors import error_answer as rest_error  # noqa: E402


def _buffer_chunked_body(environ: dict[str, Any]) -> bool:
    """A `Transfer-Encoding: chunked` body has no Content-Length, so Django would read none of
    it: read it here (up to the body limit) and hand it on with its length. False when it is
    over the limit."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked or environ.get("CONTENT_LENGTH"):
        return True
    limit = settings.GATEWAY_MAX_BODY_BYTES
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return False
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return True


def _too_large(path: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
    """413 in the error body of the dialect the path speaks."""
    error = PayloadTooLarge(
        f"Request body is larger than the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes; "
        "send fewer records per request."
    )
    if path.startswith("/rest/"):
        answer = rest_error(error)
        start_response("413 Request Entity Too Large", answer.header_list())
        return [answer.content]
    start_response("413 Request Entity Too Large", [("Content-Type", "application/json")])
    return [render_error(error)]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if not _buffer_chunked_body(environ):
        return _too_large(path, start_response)
    if not is_data_path(path):
        return django_application(environ, start_response)
    response = serve_api(EnvironRequest(environ))
    if isinstance(response, ApiResponse):
        start_response(f"{response.status_code} {response.reason_phrase}", response.header_list())
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [response.content]
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    if environ.get("REQUEST_METHOD") == "HEAD":  # answered as GET, without the body
        response.close()
        return []
    if isinstance(response, HttpResponse):
        return [response.content]
    return response  # streaming: the server iterates it, then close()s it
