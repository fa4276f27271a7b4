"""Stage 9, execute: a bound plan (and its compiled statement) -> the answer's data.

One entry for every kind of plan; each kind runs in its own module (tables, stream, schema,
routines, sql_query, spec, listing), always through services/db/executor.py. Cacheable
reads go through the data cache here; writes that may change cached rows invalidate them.
What comes out is plain data for the respond stage: bytes to pass through, JSON values, a row
stream, or a cached answer with its ETag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.access import Access
from core.context import current as current_context
from core.request import ApiRequest
from services.execution import read_cache, routines, schema
from services.execution.listing import service_root, table_list
from services.execution.spec import spec_document
from services.execution.sql_query import may_write, run_sql
from services.execution.stream import RowStream, open_stream, stream_limit
from services.execution.tables import run_read, run_write
from services.plan.types import (
    Bound,
    BoundNode,
    BoundRead,
    BoundRoutineCall,
    BoundRoutineList,
    BoundSchemaRead,
    BoundTableList,
    BoundWrite,
    Plan,
    SchemaWrite,
    ServiceRoot,
    SpecRead,
    SqlQuery,
    TableRead,
)
from services.registry import LiveService
from services.sql.compile import Statement

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Context:
    """What the execute stage knows of the call besides its plan."""

    live: LiveService
    access: Access  # the caller's rights on the resource (core/access.py)
    row_filter: BoundNode | None  # the caller's row filter, bound to the plan's table
    cache_scope: str  # whose answers these are, for the data cache
    request: ApiRequest  # for the data cache's key (path and query as sent)


@dataclass(frozen=True, slots=True)
class Cached:
    """An answer of the data cache (hit), or the database's answer just stored (miss, bypass)."""

    body: bytes
    etag: str
    outcome: str  # "hit", "miss" or "bypass"


Result = bytes | dict[str, Any] | list[Any] | int | str | bool | RowStream | Cached


def execute_plan(plan: Plan, bound: Bound, stmt: Statement | None, ctx: Context) -> Result:
    """Run one plan for the caller in `ctx`."""
    live, access = ctx.live, ctx.access
    if isinstance(bound, BoundRead) and isinstance(plan, TableRead):
        return _read(plan, bound, stmt, ctx)
    if isinstance(bound, BoundWrite):
        try:
            return run_write(live, bound, ctx.row_filter)
        finally:  # a failed batch may have written some records
            if live.config.cache_enabled:
                read_cache.invalidate_table(live.config.id, bound.table.name)
    if isinstance(bound, ServiceRoot):
        return service_root(bound)
    if isinstance(bound, BoundTableList):
        return table_list(bound.plan, bound.schema, access)
    if isinstance(bound, BoundSchemaRead):
        return schema.describe(live, bound, access)
    if isinstance(bound, SchemaWrite):  # the schema version moves: cached reads go with it
        return schema.change(live, bound, access)
    if isinstance(bound, BoundRoutineList):
        return routines.list_routines(bound, access)
    if isinstance(bound, BoundRoutineCall) and stmt is not None:
        # functions are taken to read; a procedure may write anything
        writes = bound.plan.kind == "procedure"
        return _writing(ctx, writes, lambda: routines.call_routine(live, bound, stmt))
    if isinstance(bound, SqlQuery):
        return _writing(ctx, may_write(bound, access), lambda: run_sql(live, bound, access))
    if isinstance(bound, SpecRead):
        return spec_document(live, bound, access)
    raise TypeError(f"no execution for {type(bound).__name__}")  # a bug, not a client error


def _writing(ctx: Context, writes: bool, run: Callable[[], T]) -> T:
    """Run a call outside `_table` that may change data; drop the service's cached reads."""
    result = run()
    if writes and ctx.live.config.cache_enabled:
        read_cache.invalidate_service(ctx.live.config.id)
    return result


def _read(plan: TableRead, read: BoundRead, stmt: Statement | None, ctx: Context) -> Result:
    live = ctx.live
    if read.stream is not None:  # NDJSON/CSV: every row, streamed (no max_records page)
        limit = stream_limit(read, live.config, ctx.access)
        return open_stream(live, read, read.stream, limit, ctx.row_filter)
    if stmt is None:
        raise TypeError("a non-streamed read needs its compiled statement")
    if live.config.cache_enabled and ctx.request.body is None:
        return _cached_read(plan, read, stmt, ctx)
    return run_read(live, read, stmt, ctx.row_filter, verbs=ctx.access.verbs)


def _cached_read(plan: TableRead, read: BoundRead, stmt: Statement, ctx: Context) -> Cached:
    """The stored answer, else the database's, stored (`refresh=true` bypasses the lookup)."""
    config = ctx.live.config
    key = read_cache.key_for(
        service_id=config.id,
        schema_version=config.schema_version,
        scope=ctx.cache_scope,
        read=read,
        row_filter=ctx.row_filter,
        segments=list(ctx.request.segments),
        query=dict(ctx.request.query),
    )
    found = read_cache.lookup(key, config.id, read, fetch=not plan.refresh)
    entry = found.entry
    outcome = "hit" if entry is not None else "bypass" if plan.refresh else "miss"
    if entry is None:
        body = run_read(ctx.live, read, stmt, ctx.row_filter, verbs=ctx.access.verbs)
        entry = read_cache.put(found, body, config.cache_ttl)
    context = current_context()
    if context is not None:
        context.cache = outcome
    return Cached(entry.body, entry.etag, outcome)
