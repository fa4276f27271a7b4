"""Stages 6-10 of a PostgREST write (POST, PATCH, DELETE on `/rest/<service>/<table>`), after
the shared stages 1-5 (gateway/postgrest/pipeline.py):

    6     services/plan/pgrst_write.py: body, parameters and Prefer -> PgrstWrite
    7-9   services/execution/pgrst_writes.py: the schema cache's names, the role's row filter
          for the verb (as on `/api/v2`), one transaction
   10     write_respond.py: PostgREST's status, body and headers for the `return` asked for
"""

from __future__ import annotations

from core.context import note_rows
from core.responses import Answer
from gateway.pipeline import Clock
from gateway.postgrest.request import PgrstRequest
from gateway.postgrest.write_respond import respond_write
from rbac.db_roles import identity_for
from rbac.policy import Grant, Principal
from rbac.row_filters import bind_for_table
from services.catalog.schema_cache import NotInCache, Table
from services.db.db_identity import acting_as
from services.execution.pgrst_writes import RowFilter, WriteOutcome, run_pgrst_write
from services.plan.pgrst_write import PgrstWrite, parse_pgrst_write
from services.plan.types import BoundNode
from services.registry import LiveService


def handle_write(
    pgrst: PgrstRequest,
    principal: Principal,
    live: LiveService,
    grant: Grant,
    clock: Clock,
    limit_headers: dict[str, str],
) -> Answer:
    if pgrst.write is None:
        raise TypeError("a PostgREST write needs its write query")  # a bug, not a client error
    req = pgrst.api
    plan = parse_pgrst_write(pgrst.write)  # 6
    clock.lap("parse")

    def row_filter(table: Table, verb: str) -> BoundNode | None:
        """The role's row filter for `verb` (admitted for the request's own verb already; an
        upsert that merges must be allowed to PATCH the table too)."""
        found = grant if verb == req.verb else grant.check(f"_table/{table.name}", verb)
        return bind_for_table(found.row_filter, table)

    with acting_as(identity_for(principal, grant, live.config, req.verb, req.path)):
        outcome = _run(live, plan, row_filter, clock, pgrst.singular)  # 7-9
    clock.lap("db")
    note_rows(len(outcome.rows))
    return respond_write(  # 10
        outcome,
        plan,
        method=req.verb,
        singular=pgrst.singular,
        timings=clock.timings,
        extra_headers=limit_headers,
    )


def _run(
    live: LiveService, plan: PgrstWrite, row_filter: RowFilter, clock: Clock, singular: bool
) -> WriteOutcome:
    """Run the write; once more if the table was unknown and the schema cache proved stale
    (nothing ran then)."""
    try:
        return run_pgrst_write(live, plan, row_filter, singular=singular)
    except NotInCache:
        if not live.schema_moved(since=clock.started):
            raise
    return run_pgrst_write(live, plan, row_filter, singular=singular)
