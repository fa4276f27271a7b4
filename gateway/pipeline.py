"""The data API pipeline: the ordered stages of a request, readable top to bottom.

credentials -> authenticate -> resolve service -> authorize -> parse -> bind (+ the role's row
filter) -> compile/execute -> respond. Each stage is timed for the Server-Timing header. Errors
are raised as GatewayErrors and rendered once, in gateway/views.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.http import (
    HttpRequest,
    HttpResponseBase,
    HttpResponseNotModified,
    StreamingHttpResponse,
)

from core.context import current as current_context
from core.credentials import extract_credentials, query_params
from core.errors import BadRequest, GatewayError, MethodNotAllowed
from core.request_body import read_json_body
from core.responses import json_response
from limits.enforce import LimitExceeded, enforce
from limits.rules import Caller
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
from services.catalog.schema_cache import NotInCache, Table
from services.execution import read_cache
from services.execution.db_identity import acting_as
from services.execution.listing import service_root, table_list
from services.execution.stream import RowStream, open_stream, stream_format, stream_limit
from services.execution.tables import run_read, run_write
from services.plan.bind import RelatedGuard, bind_read, bind_write
from services.plan.parse import NO_BODY, parse_request
from services.plan.types import BoundNode, BoundRead, ServiceRoot, TableList, TableRead
from services.registry import LiveService, registry
from services.resources import HANDLERS, ResourceCall, dispatch
from services.resources.sql_query import may_write

_OVERRIDE_VERBS = frozenset({"GET", "PUT", "PATCH", "DELETE", "POST", "MERGE"})
DATA_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def effective_verb(request: HttpRequest, query: Mapping[str, str]) -> str:
    """POST may tunnel another verb (X-HTTP-Method, X-Method-Override, ?method=, _method);
    HEAD reads like GET; any other method is a 405 that lists the allowed ones."""
    verb = request.method or "GET"
    if verb == "HEAD":
        return "GET"
    if verb not in DATA_METHODS:
        raise MethodNotAllowed(
            f"Method {verb[:20]} is not allowed here; use {', '.join(DATA_METHODS)}.",
            headers={"Allow": ", ".join(DATA_METHODS)},
        )
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
    started = time.monotonic()
    mark = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings.append((stage, now - mark))
        mark = now

    query = query_params(request)
    verb = effective_verb(request, query)
    segments = [s for s in resource.strip("/").split("/")] if resource.strip("/") else []
    context = current_context()
    if context is not None:  # known before authentication, so refusals are recorded fully
        context.verb, context.service, context.resource = verb, service.lower(), "/".join(segments)
    principal = authenticate(extract_credentials(request, query))
    if context is not None:
        context.note_principal(principal)
    require_credentials(principal)
    live, grant = resolve_service(principal, service, "/".join(segments), verb)
    lap("auth")
    limit_headers = throttle(principal, grant, live, "/".join(segments), verb)
    if limit_headers:
        lap("limit")
    identity = identity_for(principal, grant, live.config, verb, request.path)
    call = Call(
        request=request,
        live=live,
        grant=grant,
        verb=verb,
        segments=segments,
        query=query,
        cache_scope=cache_scope(principal, grant, live),
        timings=timings,
        lap=lap,
        started=started,
    )
    with acting_as(identity):
        response = _serve(call)
    for name, value in limit_headers.items():
        response[name] = value
    return response


def throttle(
    principal: Principal, grant: Grant, live: LiveService, resource: str, verb: str
) -> dict[str, str]:
    """Stage 5: count the call against its rate limits (admins are exempt)."""
    if grant.is_admin:
        return {}
    caller = Caller(
        user_id=principal.user.id if principal.user else None,
        role_id=principal.role.id if principal.role else None,
        service_id=live.config.id,
        resource=resource.strip("/").lower(),
        verb=verb,
    )
    try:
        return enforce(caller)
    except LimitExceeded as exc:
        context = current_context()
        if context is not None:
            context.limited_by = exc.limit_id
        raise


@dataclass(slots=True)
class Call:
    """An authorized data API call, as stages 6-10 need it."""

    request: HttpRequest
    live: LiveService
    grant: Grant
    verb: str
    segments: list[str]
    query: dict[str, str]
    cache_scope: str  # whose answers these are, for the data cache
    timings: list[tuple[str, float]]
    lap: Callable[[str], None]
    started: float = 0.0  # time.monotonic() when the request began


def cache_scope(principal: Principal, grant: Grant, live: LiveService) -> str:
    """Admins share answers; a role's answers are its own (its row filters are in the key
    too); on a service with database roles, each user's are (their claims drive policies)."""
    if grant.is_admin:
        return "admin"
    role = principal.role.id if principal.role else None
    user = principal.user.id if principal.user and live.config.use_db_roles else None
    return f"role:{role}:user:{user}"


def _serve(call: Call) -> HttpResponseBase:
    """Stages 6-10 for an authorized call; once more when the schema cache proved stale."""
    try:
        return _serve_once(call)
    except GatewayError as exc:
        if not _schema_moved(call, exc):
            raise
    return _serve_once(call)


_STALE_STATES = frozenset({"42P01", "42703"})  # undefined table / column: the cache is behind


def _schema_moved(call: Call, error: GatewayError) -> bool:
    """Whether the schema cache was reloaded after `error`, and the call may run again.

    A name the cache does not know fails before anything ran: if the database changed, try
    again. A statement the database refused for a missing table or column proves the cache
    stale: reload it, and run a read again (never a write: it may have written some records).
    """
    if isinstance(error, NotInCache):
        return call.live.schema_moved(since=call.started)
    if error.code in _STALE_STATES:
        reloaded = call.live.schema_moved(since=call.started, certain=True)
        reads = call.verb == "GET" and (not call.segments or call.segments[0] in _READS)
        return reloaded and reads
    return False


_READS = frozenset({"_table", "_schema"})


def _serve_once(call: Call) -> HttpResponseBase:
    """Stages 6-10, once."""
    live, grant, verb, segments, query = call.live, call.grant, call.verb, call.segments, call.query
    body: Any = read_json_body(call.request, empty=NO_BODY)
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
                accept=call.request.META.get("HTTP_ACCEPT", ""),
            )
        )
        if live.config.cache_enabled and may_change_data(segments[0], grant):
            read_cache.invalidate_service(live.config.id)
        call.lap("db")
        if isinstance(result, HttpResponseBase):
            return result
        data = result if isinstance(result, bytes) else orjson.dumps(result)
        return json_response(data, call.timings)
    plan = parse_request(verb, segments, query, body)
    call.lap("parse")
    if isinstance(plan, ServiceRoot):
        return json_response(service_root(plan), call.timings)
    schema = live.schema(refresh=getattr(plan, "refresh", False))
    if isinstance(plan, TableList):
        return json_response(table_list(plan, schema, grant), call.timings)
    if isinstance(plan, TableRead):
        bound_read = bind_read(plan, schema, live.config, related_guard(grant))
        row_filter = bind_for_table(grant.row_filter, bound_read.table)
        call.lap("bind")
        fmt = stream_format(bound_read, call.request.META.get("HTTP_ACCEPT", ""), query)
        if fmt is not None:  # NDJSON/CSV: every row, streamed (no max_records page)
            limit = stream_limit(plan, live.config, grant)
            rows = open_stream(live, bound_read, fmt, limit, row_filter)
            call.lap("db")
            return _streaming(rows, call.timings)
        if live.config.cache_enabled and body is NO_BODY:
            return _cached_read(call, plan, bound_read, row_filter)
        body_bytes = run_read(live, bound_read, row_filter, verbs=grant.verbs)
    else:
        bound_write = bind_write(plan, schema, live.config)
        row_filter = bind_for_table(grant.row_filter, bound_write.table)
        call.lap("bind")
        try:
            body_bytes = run_write(live, bound_write, row_filter)
        finally:  # a failed batch may have written some records
            if live.config.cache_enabled:
                read_cache.invalidate_table(live.config.id, bound_write.table.name)
    call.lap("db")
    return json_response(body_bytes, call.timings)


def may_change_data(resource: str, grant: Grant) -> bool:
    """Calls outside _table that can write: any procedure, and _sql when the caller may write
    through it (functions are taken to read; schema changes move the schema version)."""
    return resource == "_proc" or (resource == "_sql" and may_write(grant))


def _cached_read(
    call: Call, plan: TableRead, read: BoundRead, row_filter: BoundNode | None
) -> HttpResponseBase:
    """A cacheable read: the stored answer (or 304), else the database's, stored."""
    config = call.live.config
    key = read_cache.key_for(
        service_id=config.id,
        schema_version=config.schema_version,
        scope=call.cache_scope,
        read=read,
        row_filter=row_filter,
        segments=call.segments,
        query=call.query,
    )
    found = read_cache.lookup(key, config.id, read, fetch=not plan.refresh)
    entry = found.entry
    outcome = "hit" if entry is not None else "bypass" if plan.refresh else "miss"
    if entry is None:
        body = run_read(call.live, read, row_filter, verbs=call.grant.verbs)
        entry = read_cache.put(found, body, config.cache_ttl)
    call.lap("db" if outcome != "hit" else "cache")
    context = current_context()
    if context is not None:
        context.cache = outcome
    if read_cache.matches(call.request.META.get("HTTP_IF_NONE_MATCH", ""), entry.etag):
        response: HttpResponseBase = HttpResponseNotModified()
    else:
        response = json_response(entry.body, call.timings)
    response["ETag"] = entry.etag
    response["X-Cache"] = outcome.upper()
    return response
