"""The entry of `/rest/<service>/...` (called by gateway.middleware.serve_api): routes the
path, and answers every error in PostgREST's body, never with a bare 500."""

from __future__ import annotations

import logging
import re

from core.environ_request import RequestLike
from core.errors import BadRequest, GatewayError, InternalError, NotFound, NotImplementedYet
from core.responses import Answer
from gateway.postgrest import pipeline
from gateway.postgrest.errors import error_answer

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
    if not rest:
        raise NotImplementedYet(
            f"The OpenAPI document of /rest/{service}/ is not served yet; name a table."
        )
    if rest.startswith("rpc/"):
        raise NotImplementedYet("Calling functions through /rest/<service>/rpc/ is not served yet.")
    if _TABLE.match(rest) is None:
        raise NotFound(f"No such resource: /rest/{service}/{rest}.", context={"pgrst": "PGRST205"})
    return pipeline.handle(request, service, rest)
