"""WSGI entry point (granian / gunicorn).

Data API requests (`/api/v2/<service>/...`) go straight to gateway.middleware.serve_api with a
WSGIRequest, skipping Django's handler: its per-request signals (close_old_connections,
cache and urlconf resets) and the middleware chain cost about as much as our whole pipeline
and do nothing for these requests. Everything else (admin, system API, health) is served by
Django as usual, and ApiMiddleware routes data paths there too (the test client's path).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
django_application = get_wsgi_application()

from django.core.handlers.wsgi import WSGIRequest  # noqa: E402  (after Django is set up)

from gateway.middleware import is_data_path, serve_api  # noqa: E402


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if not is_data_path(path):
        return django_application(environ, start_response)  # type: ignore[no-any-return]
    response = serve_api(WSGIRequest(environ))
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    if response.streaming:
        return response  # type: ignore[return-value]  # the server iterates it, then close()s it
    return [response.content]  # type: ignore[attr-defined]
