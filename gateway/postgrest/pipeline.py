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
from gateway.pipeline import Clock, admit, cache_scope, serve, throttle
from gateway.postgrest.request import read_pgrst
from gateway.postgrest.respond import respond_read
from rbac.db_roles import identity_for
from services.db.db_identity import acting_as
from services.plan.pgrst_parse import parse_pgrst_read
from services.plan.types import Plan, TableRead


def handle(request: RequestLike, service: str, table: str) -> Answer:
    """One `/rest/<service>/<table>` read through every stage."""
    clock = Clock()
    pgrst = read_pgrst(request, service, table)  # 1
    req = pgrst.api
    principal, live, grant = admit(req)  # 2-4
    clock.lap("auth")
    limit_headers = throttle(principal, grant, live, req)  # 5
    if limit_headers:
        clock.lap("limit")
    parsed: list[TableRead] = []

    def parse(_: ApiRequest) -> Plan:  # 6
        plan = parse_pgrst_read(pgrst.query)
        parsed.append(plan)
        return plan

    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        result = serve(req, live, grant, cache_scope(principal, grant, live), clock, parse)
    plan = parsed[-1]
    return respond_read(  # 10
        result,
        clock.timings,
        offset=plan.offset,
        counted=plan.include_count,
        singular=pgrst.singular,
        extra_headers=limit_headers,
    )
