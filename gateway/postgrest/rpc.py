"""`/rest/<service>/rpc/<fn>`: call a function (or a procedure, which PostgREST cannot) through
the shared stages of `/api/v2`'s `_func/<fn>` and `_proc/<fn>`.

    1    the method, the profile, the body, the query, Range and Prefer
    2-5  pipeline.admit + throttle on `_func/<fn>` (GET or POST, as on `/api/v2`), else
         `_proc/<fn>` when only a procedure has the name
    6-7  services/plan/pgrst_rpc.py: the overload, its arguments, the rows' shaping
    8    compile: services/sql/pgrst_rpc.py for rows, services/sql/routines.py otherwise
    9    services/execution/pgrst_rpc.py (a GET in a READ ONLY transaction; a GET of a
         VOLATILE function or a procedure is refused before: 405)
   10    rpc_respond.py
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from django.core.exceptions import RequestDataTooBig

from core.environ_request import RequestLike
from core.errors import MethodNotAllowed, PayloadTooLarge
from core.request_body import parse_json
from core.responses import Answer
from gateway.pipeline import Clock, admit, throttle
from gateway.postgrest.profiles import check_profile, profiled
from gateway.postgrest.request import (
    OBJECT_MEDIA,
    _prefers_count,
    _range,
    allowed_method,
    api_request,
)
from gateway.postgrest.rpc_respond import respond_rpc
from rbac.db_roles import identity_for
from services.catalog.routines import Routine, RoutineKind
from services.db.db_identity import acting_as
from services.execution import read_cache
from services.execution.pgrst_rpc import RpcResult, run_call
from services.plan.pgrst_rpc import (
    RpcQuery,
    bind_rows,
    plan_rpc,
    result_table,
    returns_rows,
    unknown_function,
)
from services.plan.types import NO_BODY, BoundRead
from services.registry import LiveService, registry
from services.sql.compile import Statement
from services.sql.pgrst_rpc import compile_rows
from services.sql.routines import compile_function, compile_procedure

_METHODS = ("GET", "HEAD", "POST")
_SINGLE_OBJECT = "params=single-object"


def routine_kind(service: str, name: str) -> RoutineKind:
    """A function of that name, else a procedure of that name (functions win, as the names
    are PostgreSQL's one namespace for both)."""
    live = registry.find(service)
    if live is None:
        return "function"
    catalog = live.routines()
    if catalog.find("function", name) is None and catalog.find("procedure", name) is not None:
        return "procedure"
    return "function"


def _body(request: RequestLike) -> Any:
    meta = request.META
    if meta.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in meta.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return NO_BODY
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge("Request body is larger than the limit.") from None
    return parse_json(raw) if raw.strip() else NO_BODY


def _overloads(live: LiveService, kind: RoutineKind, name: str, given: tuple[str, ...]) -> Any:
    found = live.routines().find(kind, name)
    if found is None:  # created since the catalog was read?
        found = live.routines(refresh=True).find(kind, name)
    if found is None:
        raise unknown_function(name, given)
    return found


def handle_rpc(request: RequestLike, service: str, fn: str) -> Answer:
    """One `/rest/<service>/rpc/<fn>` call through every stage."""
    clock = Clock()
    meta = request.META
    method = allowed_method(
        request, _METHODS, "is not supported on a function; call it with GET or POST.", "PGRST101"
    )
    name, profile = profiled(request, service, fn)
    kind = routine_kind(service, name)
    pairs = tuple(parse_qsl(meta.get("QUERY_STRING", ""), keep_blank_values=True))
    verb = "POST" if method == "POST" else "GET"
    segments = ("_proc" if kind == "procedure" else "_func", name)
    req = api_request(request, verb, service, segments, dict(pairs))
    principal, live, grant = admit(req)  # 2-4
    clock.lap("auth")
    schema = check_profile(profile, live)
    limit_headers = throttle(principal, grant, live, req)  # 5
    start, end = _range(meta.get("HTTP_RANGE", ""))
    prefer = meta.get("HTTP_PREFER", "")
    query = RpcQuery(
        name=name,
        method=verb,
        body=_body(request) if verb == "POST" else NO_BODY,
        single_object=_SINGLE_OBJECT in prefer.replace(" ", "").lower(),
        pairs=pairs,
        range_start=start,
        range_end=end,
        count=_prefers_count(prefer),
    )
    overloads = _overloads(live, kind, name, tuple(k for k, _ in pairs))
    if verb == "GET" and (kind == "procedure" or all(r.volatility == "v" for r in overloads)):
        # PostgREST: a VOLATILE function allows only POST (a procedure, which it lacks, too)
        what = "Procedure" if kind == "procedure" else "Volatile function"
        raise MethodNotAllowed(
            f"{what} {name} may write: call it with POST.",
            context={"pgrst": "PGRST101", "hint": "Declare the function STABLE or IMMUTABLE."},
            headers={"Allow": "OPTIONS,POST"},
        )
    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        routine, read, result = _call(live, query, overloads, clock)
    if routine.kind == "function" and routine.volatility == "v" and live.config.cache_enabled:
        # PostgREST clients write through VOLATILE functions: drop the service's cached reads
        # (a procedure's call does so in run_call)
        read_cache.invalidate_service(live.config.id)
    return respond_rpc(
        result,
        routine,
        read,
        singular=OBJECT_MEDIA in req.accept,
        head=method == "HEAD",
        schema=schema,
        timings=clock.timings,
        extra_headers=limit_headers,
    )


def _call(
    live: LiveService, query: RpcQuery, overloads: tuple[Routine, ...], clock: Clock
) -> tuple[Routine, BoundRead | None, RpcResult]:
    """6-9: plan, bind, compile and run the call."""
    plan = plan_rpc(query, overloads)
    routine = plan.call.routine
    read: BoundRead | None = None
    stmt: Statement
    if returns_rows(routine):
        read = bind_rows(plan.shaping, result_table(routine, live.schema()), live.config)
        stmt = compile_rows(plan.call, read)
    elif routine.kind == "function":
        stmt = compile_function(plan.call)
    else:
        stmt = compile_procedure(plan.call)
    clock.lap("bind")
    result = run_call(live, plan.call, stmt, rows=read is not None, read_only=query.method == "GET")
    clock.lap("db")
    return routine, read, result
