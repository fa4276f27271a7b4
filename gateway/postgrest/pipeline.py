"""The PostgREST dialect through the shared pipeline (gateway/pipeline.py).

    1 request      read_pgrst: URL, query, Range/Prefer/Accept -> ApiRequest + PgrstQuery
    2-4            pipeline.admit: authenticate, resolve the service, authorize `_table/<t>`
    5              pipeline.throttle: the same rate limits as `/api/v2`
    6              services/plan/pgrst_parse.py: PgrstQuery -> TableRead
    7-9            pipeline.serve: bind, the role's row filter, compile, execute (data cache too)
   10              respond_read: rows as PostgREST answers them (Content-Range, one object)

A new verb plugs in at 1 (allow it), 6 (its parser, producing the shared plan type) and 10
(its answer shape); 2-5 and 7-9 take it as they take `/api/v2`'s.
"""

from __future__ import annotations

from core.environ_request import RequestLike
from core.request import ApiRequest
from core.responses import Answer
from gateway.pipeline import Clock, Remembered, admit, cache_scope, serve, throttle
from gateway.postgrest import key_reads
from gateway.postgrest.profiles import PROFILE_HEADER, check_profile
from gateway.postgrest.request import read_pgrst
from gateway.postgrest.respond import respond_read
from gateway.postgrest.respond_stream import respond_stream
from gateway.postgrest.write_pipeline import handle_write
from rbac.db_roles import identity_for
from rbac.policy import Grant
from services.db.db_identity import acting_as
from services.execution.stream import RowStream
from services.plan.pgrst_parse import PgrstQuery, parse_pgrst_read
from services.plan.types import Bound, Plan, TableRead
from services.registry import LiveService
from services.sql.compile import Statement


class _Shapes:
    """This request's stage 6 and remembered reads (gateway/postgrest/key_reads.py), keeping
    the plan either gave for the respond stage."""

    __slots__ = ("plan", "query")

    def __init__(self, query: PgrstQuery) -> None:
        self.query = query
        self.plan: TableRead | None = None

    def parse(self, _: ApiRequest) -> Plan:  # 6
        self.plan = parse_pgrst_read(self.query)
        return self.plan

    def recall(
        self, req: ApiRequest, live: LiveService, grant: Grant
    ) -> tuple[Plan, Bound, Statement] | None:
        found = key_reads.recall(self.query, req.accept, live, grant)
        if found is not None:
            self.plan = found[0]
        return found

    def remember(
        self,
        req: ApiRequest,
        live: LiveService,
        grant: Grant,
        plan: Plan,
        bound: Bound,
        stmt: Statement | None,
    ) -> None:
        key_reads.remember(self.query, req.accept, live, grant, plan, bound, stmt)


def handle(request: RequestLike, service: str, table: str) -> Answer:
    """One `/rest/<service>/<table>` request through every stage; the answer names the schema
    it used (Content-Profile)."""
    clock = Clock()
    pgrst = read_pgrst(request, service, table)  # 1
    req = pgrst.api
    principal, live, grant = admit(req)  # 2-4
    clock.lap("auth")
    schema = check_profile(pgrst.profile, live)  # an unexposed schema: 406
    limit_headers = throttle(principal, grant, live, req)  # 5
    if limit_headers:
        clock.lap("limit")
    answer: Answer
    if pgrst.write is not None:  # 6-10 of POST, PATCH, DELETE
        answer = handle_write(pgrst, principal, live, grant, clock, limit_headers)
        answer[PROFILE_HEADER] = schema
        return answer
    shapes = _Shapes(pgrst.query)
    scope = cache_scope(principal, grant, live)
    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        result = serve(
            req, live, grant, scope, clock, shapes.parse, Remembered(shapes.recall, shapes.remember)
        )
    plan = shapes.plan
    if isinstance(result, RowStream):  # 10, CSV/NDJSON: rows as they come
        answer = respond_stream(result, clock.timings, limit_headers)
    else:
        if plan is None:  # serve() runs stage 6 or recalls a plan before it answers
            raise TypeError("a /rest/ read answered without a plan")
        answer = respond_read(  # 10
            result,
            clock.timings,
            offset=plan.offset,
            counted=plan.include_count,
            singular=pgrst.singular,
            extra_headers=limit_headers,
        )
    answer[PROFILE_HEADER] = schema
    return answer
