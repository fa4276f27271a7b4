"""The data API pipeline: the ordered stages of a request, readable top to bottom.

credentials -> authenticate -> resolve service -> authorize -> parse -> bind (+ the role's row
filter) -> compile/execute -> respond. Each stage is timed for the Server-Timing header. Errors
are raised as GatewayErrors and rendered once, in gateway/views.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse

from gateway.context import current as current_context
from gateway.credentials import extract_credentials, query_params
from gateway.errors import BadRequest
from gateway.request_body import read_json_body
from gateway.responses import json_response, service_root, table_list
from rbac.db_roles import identity_for
from rbac.policy import (
    FULL_ACCESS,
    Grant,
    Principal,
    authenticate,
    authorize,
    require_credentials,
)
from rbac.row_filters import bind_for_table
from services.db_identity import acting_as
from services.execute import run_read, run_write
from services.plan.bind import RelatedGuard, bind_read, bind_write
from services.plan.parse import NO_BODY, parse_request
from services.plan.types import BoundNode, ServiceRoot, TableList, TableRead
from services.registry import LiveService, registry
from services.resources import HANDLERS, ResourceCall, dispatch
from services.schema_cache import Table
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


def resolve_service(
    principal: Principal, service: str, component: str, verb: str
) -> tuple[LiveService, Grant]:
    """Stages 3 and 4. A non-admin is authorized before the service is known to exist, so a
    refused caller cannot tell unknown services from forbidden ones (spec §7.5)."""
    if principal.is_admin:
        return registry.get(service), FULL_ACCESS
    found = registry.find(service)
    name = found.config.name if found is not None else service.lower()
    grant = authorize(principal, found.config.id if found else None, name, component, verb)
    return registry.get(service), grant


def related_guard(grant: Grant) -> RelatedGuard | None:
    """Embedded tables need GET on `_table/{t}` too; their rows get the role's filter there."""
    if grant.is_admin:
        return None

    def guard(table: Table) -> BoundNode | None:
        return bind_for_table(grant.check(f"_table/{table.name}", "GET").row_filter, table)

    return guard


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
    segments = [s for s in resource.strip("/").split("/")] if resource.strip("/") else []
    context = current_context()
    if context is not None:
        context.verb, context.service, context.resource = verb, service.lower(), "/".join(segments)
        context.note_principal(principal)
    require_credentials(principal)
    live, grant = resolve_service(principal, service, "/".join(segments), verb)
    lap("auth")
    identity = identity_for(principal, grant, live.config, verb, request.path)
    with acting_as(identity):
        return _serve(request, live, grant, verb, segments, query, timings, lap)


def _serve(
    request: HttpRequest,
    live: LiveService,
    grant: Grant,
    verb: str,
    segments: list[str],
    query: dict[str, str],
    timings: list[tuple[str, float]],
    lap: Callable[[str], None],
) -> HttpResponseBase:
    """Stages 6-10 for an authorized call."""
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
        return json_response(table_list(plan, schema, grant), timings)
    if isinstance(plan, TableRead):
        bound_read = bind_read(plan, schema, live.config, related_guard(grant))
        row_filter = bind_for_table(grant.row_filter, bound_read.table)
        lap("bind")
        fmt = stream_format(bound_read, request.META.get("HTTP_ACCEPT", ""), query)
        if fmt is not None:  # NDJSON/CSV: every row, streamed (no max_records page)
            limit = stream_limit(plan, live.config, grant)
            rows = open_stream(live, bound_read, fmt, limit, row_filter)
            lap("db")
            return _streaming(rows, timings)
        body_bytes = run_read(live, bound_read, row_filter, verbs=grant.verbs)
    else:
        bound_write = bind_write(plan, schema, live.config)
        row_filter = bind_for_table(grant.row_filter, bound_write.table)
        lap("bind")
        body_bytes = run_write(live, bound_write, row_filter)
    lap("db")
    return json_response(body_bytes, timings)
