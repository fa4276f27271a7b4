"""Stages 6-10 of a PostgREST write (POST, PATCH, DELETE on `/rest/<service>/<table>`), after
the shared stages 1-5 (gateway/postgrest/pipeline.py):

    6     services/plan/pgrst_write.py: body, parameters and Prefer -> the shared TableWrite,
          PostgREST's semantics as its WriteOptions
    7-9   pipeline.serve, as on `/api/v2`: bind_plan (services/plan/bind_write_options.py),
          the role's row filter for the verb, the shared compiler (services/sql/writes.py)
          and executor (services/execution/tables.py -> option_writes.py: one transaction)
   10     write_respond.py: PostgREST's status, body and headers for the `return` asked for
"""

from __future__ import annotations

from dataclasses import replace

from core.context import note_rows
from core.request import ApiRequest
from core.responses import Answer
from gateway.pipeline import Clock, cache_scope, serve
from gateway.postgrest.request import PgrstRequest
from gateway.postgrest.write_respond import respond_write
from rbac.db_roles import identity_for
from rbac.policy import Grant, Principal
from services.db.db_identity import acting_as
from services.plan.pgrst_write import PgrstWrite, parse_pgrst_write
from services.plan.types import Plan
from services.registry import LiveService


def _parse(pgrst: PgrstRequest) -> PgrstWrite:
    """Stage 6; a single object asked for (`vnd.pgrst.object+json`) with the rows answered
    must be exactly one row changed."""
    if pgrst.write is None:
        raise TypeError("a PostgREST write needs its write query")  # a bug, not a client error
    plan = parse_pgrst_write(pgrst.write)
    if pgrst.singular and plan.returning == "representation":
        options = replace(plan.options, expect_one=True)
        plan = replace(plan, write=replace(plan.write, options=options))
    return plan


def handle_write(
    pgrst: PgrstRequest,
    principal: Principal,
    live: LiveService,
    grant: Grant,
    clock: Clock,
    limit_headers: dict[str, str],
) -> Answer:
    req = pgrst.api
    plan = _parse(pgrst)  # 6

    def parse(_: ApiRequest) -> Plan:
        return plan.write

    scope = cache_scope(principal, grant, live)
    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        rows = serve(req, live, grant, scope, clock, parse)  # 7-9
    if not isinstance(rows, list):  # a write with WriteOptions answers its rows' texts
        raise TypeError("a PostgREST write answered no rows")
    note_rows(len(rows))
    return respond_write(  # 10
        rows,
        live.schema().table(plan.write.table),
        plan,
        method=req.verb,
        singular=pgrst.singular,
        timings=clock.timings,
        extra_headers=limit_headers,
    )
