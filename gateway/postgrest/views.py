"""The entry of `/rest/<service>/...` (called by gateway.middleware.serve_api): routes the
path, and answers every error in PostgREST's body, never with a bare 500."""

from __future__ import annotations

import logging
import re

from core.environ_request import RequestLike
from core.errors import BadRequest, GatewayError, InternalError, MethodNotAllowed, NotFound
from core.responses import Answer
from gateway.postgrest import pipeline
from gateway.postgrest.errors import error_answer
from gateway.postgrest.openapi import serve_document
from gateway.postgrest.options import rpc_options, table_options
from gateway.postgrest.rpc import handle_rpc

log = logging.getLogger("gateway")

REST_PATH = re.compile(r"^/rest/(?P<service>[_0-9a-zA-Z.-]+)(?:/(?P<rest>.*))?$")
_TABLE = re.compile(r"^[^/]+$")


def rest_api(request: RequestLike) -> Answer:
    """Every `/rest/` request."""
    try:
        return _route(request)
    except GatewayError as exc:
        return error_answer(exc)
    except RecursionError:
        return error_answer(BadRequest("The request nests values too deeply."))
    except Exception as exc:
        log.exception("unhandled error in /rest/ request %s %s", request.method, request.path)
        error = InternalError("An internal error occurred; it has been logged.")
        error.cause = type(exc).__name__
        return error_answer(error)


def _route(request: RequestLike) -> Answer:
    match = REST_PATH.match(request.path_info)
    if match is None:
        raise NotFound("No such resource; the base URL of a service is /rest/<service>.")
    service, rest = match.group("service"), (match.group("rest") or "").strip("/")
    options = request.method == "OPTIONS"
    if not rest:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed(
                "The root of a service answers its OpenAPI document to GET.",
                context={"pgrst": "PGRST117"},
                headers={"Allow": "GET, HEAD"},
            )
        return serve_document(request, service)
    if rest.startswith("rpc/"):
        fn = rest[4:]
        if _TABLE.match(fn) is None:
            raise NotFound(f"No such function: {fn[:80]}.", context={"pgrst": "PGRST202"})
        return rpc_options(request, service, fn) if options else handle_rpc(request, service, fn)
    if _TABLE.match(rest) is None:
        raise NotFound(f"No such resource: /rest/{service}/{rest}.", context={"pgrst": "PGRST205"})
    if options:
        return table_options(request, service, rest)
    return pipeline.handle(request, service, rest)
