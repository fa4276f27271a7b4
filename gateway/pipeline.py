"""The data API pipeline: the ordered stages of a request, readable top to bottom.

    1 request      request -> ApiRequest (core/request.py); the request object stops here
    2 authenticate credentials -> Principal (rbac/policy.py)
    3 resolve      namespace -> LiveService (services/registry.py)
    4 authorize    (Principal, service, component, verb) -> Grant (rbac/policy.py)
    5 throttle     rate limits (limits/enforce.py)
    6 parse        ApiRequest -> Plan (services/plan/parse.py)
    7 bind         Plan x catalog -> Bound plan, + the role's row filter (services/plan/bind.py)
    8 compile      Bound plan -> Statement (services/sql/plan.py)
    9 execute      -> Result, through the one executor (services/execution/run.py)
   10 respond      Result -> ApiResponse or HttpResponse (gateway/respond.py)

Every resource of a service (`_table`, `_schema`, `_func`, `_proc`, `_sql`, `_spec`) takes
this one path. Each stage is timed for Server-Timing. Errors are GatewayErrors, rendered once
in gateway/views.py. A plan that met a stale schema cache runs stages 6-9 once more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.context import current as current_context
from core.environ_request import RequestLike
from core.errors import GatewayError
from core.request import ApiRequest, read_request
from core.responses import Answer
from gateway import key_reads
from gateway.lookup_values import with_lookups
from gateway.respond import respond
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
from services.db.db_identity import acting_as
from services.execution.run import Cached, Context, Result, execute_plan
from services.plan.bind import RelatedGuard, WriteGuard, bind_plan
from services.plan.parse import parse_request
from services.plan.types import Bound, BoundNode, BoundRead, BoundWrite, Plan
from services.registry import LiveService, registry
from services.sql.compile import Statement
from services.sql.plan import compile_plan


class Clock:
    """Laps of the stages, for the Server-Timing header."""

    __slots__ = ("_mark", "started", "timings")

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.timings: list[tuple[str, float]] = []
        self._mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings.append((stage, now - self._mark))
        self._mark = now


def handle(request: RequestLike, service: str, resource: str) -> Answer:
    """Run one data API request through every stage."""
    clock = Clock()
    req = read_request(request, service, resource)  # 1
    principal, live, grant = admit(req)  # 2-4
    req = with_lookups(req, principal)  # `{name}` in filters, records, params (spec §7.6)
    clock.lap("auth")
    limit_headers = throttle(principal, grant, live, req)  # 5
    if limit_headers:
        clock.lap("limit")
    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        scope = cache_scope(principal, grant, live)
        result = serve(req, live, grant, scope, clock, shapes=KEY_READS)  # 6-9
    return respond(result, clock.timings, req, limit_headers)  # 10


def admit(req: ApiRequest) -> tuple[Principal, LiveService, Grant]:
    """Stages 2-4 for a request any dialect read: who calls, the service, what they may do."""
    _note_request(req)
    principal = authenticate(req.credentials)  # 2
    _note_principal(principal)
    require_credentials(principal)
    live, grant = resolve_service(principal, req)  # 3, 4
    return principal, live, grant


Parse = Callable[[ApiRequest], Plan]


@dataclass(frozen=True, slots=True)
class Remembered:
    """A dialect's remembered shapes (gateway/key_reads.py for `/api/v2`): `recall` gives the
    plan, bound plan and statement of a read seen before, or None; `remember` keeps what the
    full stages made of one."""

    recall: Callable[[ApiRequest, LiveService, Grant], tuple[Plan, Bound, Statement] | None]
    remember: Callable[[ApiRequest, LiveService, Grant, Plan, Bound, Statement | None], None]


KEY_READS = Remembered(key_reads.recall, key_reads.remember)


def serve(
    req: ApiRequest,
    live: LiveService,
    grant: Grant,
    scope: str,
    clock: Clock,
    parse: Parse = parse_request,
    shapes: Remembered | None = None,
) -> Result:
    """Stages 6-9 (`parse`: the dialect's stage 6, `shapes`: its remembered reads); once more
    if the schema cache proved stale (see _schema_moved)."""
    try:
        return _stages(req, live, grant, scope, clock, parse, shapes)
    except GatewayError as exc:
        if not _schema_moved(req, live, clock, exc):
            raise
    return _stages(req, live, grant, scope, clock, parse, shapes)


def _stages(
    req: ApiRequest,
    live: LiveService,
    grant: Grant,
    scope: str,
    clock: Clock,
    parse: Parse,
    shapes: Remembered | None,
) -> Result:
    # 6-8 of a read whose shape was seen before (GET _table/{t}/{id} on `/api/v2`)
    recalled = shapes.recall(req, live, grant) if shapes is not None else None
    plan: Plan
    bound: Bound
    statement: Statement | None
    row_filter: BoundNode | None
    if recalled is not None:
        plan, bound, statement = recalled
        row_filter = None
        clock.lap("bind")
    else:
        plan = parse(req)  # 6
        clock.lap("parse")
        bound = bind_plan(plan, live, related_guard(grant), write_guard(grant))  # 7
        row_filter = _row_filter(grant, bound)
        statement = compile_plan(bound, row_filter)  # 8
        clock.lap("bind")
        if shapes is not None:
            shapes.remember(req, live, grant, plan, bound, statement)
    result = execute_plan(plan, bound, statement, Context(live, grant, row_filter, scope, req))
    clock.lap("cache" if isinstance(result, Cached) and result.outcome == "hit" else "db")
    return result


def resolve_service(principal: Principal, req: ApiRequest) -> tuple[LiveService, Grant]:
    """Stages 3 and 4. A non-admin is authorized before the service is known to exist, so a
    refused caller cannot tell unknown services from forbidden ones (spec §7.5)."""
    if principal.is_admin:
        return registry.get(req.service), FULL_ACCESS
    found = registry.find(req.service)
    name = found.config.name if found is not None else req.service.lower()
    service_id = found.config.id if found else None
    grant = authorize(principal, service_id, name, req.resource, req.verb)
    return registry.get(req.service), grant


def throttle(
    principal: Principal, grant: Grant, live: LiveService, req: ApiRequest
) -> dict[str, str]:
    """Stage 5: count the call against its rate limits (admins are exempt)."""
    if grant.is_admin:
        return {}
    caller = Caller(
        user_id=principal.user.id if principal.user else None,
        role_id=principal.role.id if principal.role else None,
        service_id=live.config.id,
        resource=req.resource.lower(),
        verb=req.verb,
    )
    try:
        return enforce(caller)
    except LimitExceeded as exc:
        context = current_context()
        if context is not None:
            context.limited_by = exc.limit_id
        raise


def related_guard(grant: Grant) -> RelatedGuard | None:
    """Embedded tables need GET on `_table/{t}` too; their rows get the role's filter there."""
    if grant.is_admin:
        return None

    def guard(table: Table) -> BoundNode | None:
        return bind_for_table(grant.check(f"_table/{table.name}", "GET").row_filter, table)

    return guard


def write_guard(grant: Grant) -> WriteGuard | None:
    """Nested related writes need the verb on `_table/{t}` too; its row filter applies."""
    if grant.is_admin:
        return None

    def guard(table: Table, verb: str) -> BoundNode | None:
        return bind_for_table(grant.check(f"_table/{table.name}", verb).row_filter, table)

    return guard


def _row_filter(grant: Grant, bound: Bound) -> BoundNode | None:
    """The role's row filter, bound to the table a `_table` plan reads or writes."""
    if isinstance(bound, BoundRead | BoundWrite):
        return bind_for_table(grant.row_filter, bound.table)
    return None


def cache_scope(principal: Principal, grant: Grant, live: LiveService) -> str:
    """Admins share answers; a role's answers are its own (its row filters are in the key
    too); on a service with database roles, each user's are (their claims drive policies)."""
    if grant.is_admin:
        return "admin"
    role = principal.role.id if principal.role else None
    user = principal.user.id if principal.user and live.config.use_db_roles else None
    return f"role:{role}:user:{user}"


_STALE_STATES = frozenset({"42P01", "42703"})  # undefined table / column: the cache is behind
_READS = frozenset({"_table", "_schema"})


def _schema_moved(req: ApiRequest, live: LiveService, clock: Clock, error: GatewayError) -> bool:
    """Whether the schema cache was reloaded after `error`, and the call may run again.

    A name the cache does not know fails before anything ran: if the database changed, try
    again. A statement the database refused for a missing table or column proves the cache
    stale: reload it, and run a read again (never a write: it may have written some records).
    """
    if isinstance(error, NotInCache):
        return live.schema_moved(since=clock.started)
    if error.code in _STALE_STATES:
        reloaded = live.schema_moved(since=clock.started, certain=True)
        reads = req.verb == "GET" and (not req.segments or req.segments[0] in _READS)
        return reloaded and reads
    return False


def _note_request(req: ApiRequest) -> None:
    context = current_context()
    if context is not None:  # known before authentication, so refusals are recorded fully
        context.verb, context.resource = req.verb, req.resource
        context.service = req.service.lower()


def _note_principal(principal: Principal) -> None:
    context = current_context()
    if context is not None:
        context.note_principal(principal)
