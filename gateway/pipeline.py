"""The data API pipeline: the ordered stages of a request, readable top to bottom.

credentials -> authenticate -> resolve service -> authorize -> parse -> bind -> compile/execute
-> respond. Each stage is timed for the Server-Timing header. Errors are raised as
GatewayErrors and rendered once, in gateway/views.py.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from gateway.credentials import extract_credentials, query_params
from gateway.errors import BadRequest
from gateway.request_body import read_json_body
from gateway.responses import json_response, service_root, table_list
from rbac.policy import authenticate, authorize, require_credentials
from services.execute import run_read, run_write
from services.plan.bind import bind_read, bind_write
from services.plan.parse import NO_BODY, parse_request
from services.plan.types import ServiceRoot, TableList, TableRead
from services.registry import registry
from services.resources import HANDLERS, ResourceCall, dispatch
from services.stream import RowStream, open_stream, stream_format, stream_limit

_OVERRIDE_VERBS = frozenset({"GET", "PUT", "PATCH", "DELETE", "POST", "MERGE"})


def effective_verb(request: HttpRequest, query: Mapping[str, str]) -> str:
    """POST may tunnel another verb (X-HTTP-Method, X-Method-Override, ?method=, _method)."""
    verb = request.method or "GET"
    if verb == "POST":
        override = (
            request.META.get("HTTP_X_HTTP_METHOD")
            or request.META.get("HTTP_X_METHOD_OVERRIDE")
            or query.get("method")
            or query.get("_method")
        )
        if override:
            verb = override.upper()
            if verb not in _OVERRIDE_VERBS:
                raise BadRequest(f"Unsupported method override '{override}'.")
    return "PATCH" if verb == "MERGE" else verb


def _streaming(rows: RowStream, timings: list[tuple[str, float]]) -> StreamingHttpResponse:
    """NDJSON/CSV rows as they come; the Server-Timing covers the stages up to the first batch."""
    response = StreamingHttpResponse(rows, content_type=rows.content_type)
    response["Server-Timing"] = ", ".join(f"{name};dur={s * 1000:.2f}" for name, s in timings)
    return response


def handle(request: HttpRequest, service: str, resource: str) -> HttpResponseBase:
    """Run one data API request through every stage."""
    timings: list[tuple[str, float]] = []
    mark = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings.append((stage, now - mark))
        mark = now

    query = query_params(request)
    verb = effective_verb(request, query)
    principal = authenticate(extract_credentials(request, query))
    require_credentials(principal)
    live = registry.get(service)
    lap("auth")
    segments = [s for s in resource.strip("/").split("/")] if resource.strip("/") else []
    grant = authorize(principal, live.config.name, "/".join(segments).lower(), verb)
    body: Any = read_json_body(request, empty=NO_BODY)
    if segments and segments[0] in HANDLERS:
        result = dispatch(
            ResourceCall(
                live=live,
                grant=grant,
                verb=verb,
                resource=segments[0],
                segments=tuple(segments[1:]),
                query=query,
                body=body,
                accept=request.META.get("HTTP_ACCEPT", ""),
            )
        )
        lap("db")
        if isinstance(result, HttpResponseBase):
            return result
        return json_response(result if isinstance(result, bytes) else orjson.dumps(result), timings)
    plan = parse_request(verb, segments, query, body)
    lap("parse")
    if isinstance(plan, ServiceRoot):
        return json_response(service_root(plan), timings)
    schema = live.schema(refresh=getattr(plan, "refresh", False))
    if isinstance(plan, TableList):
        return json_response(table_list(plan, schema, grant.verbs), timings)
    if isinstance(plan, TableRead):
        bound_read = bind_read(plan, schema, live.config)
        lap("bind")
        fmt = stream_format(bound_read, request.META.get("HTTP_ACCEPT", ""), query)
        if fmt is not None:  # NDJSON/CSV: every row, streamed (no max_records page)
            rows = open_stream(live, bound_read, fmt, stream_limit(plan, live.config, grant))
            lap("db")
            return _streaming(rows, timings)
        body_bytes = run_read(live, bound_read, verbs=grant.verbs)
    else:
        bound_write = bind_write(plan, schema, live.config)
        lap("bind")
        body_bytes = run_write(live, bound_write)
    lap("db")
    return json_response(body_bytes, timings)
