"""Stage 7, bind: Plan x the service's catalog -> Bound plan. The only place user-supplied names
are accepted: tables, columns and relationships against the schema cache (bind_read.py,
bind_write.py, bind_names.py), routines and their parameters against the routine catalog.

A name the catalog does not know raises a NotInCache error (404/400 naming it), which the
pipeline answers after checking once whether the database has it by now.
"""

from __future__ import annotations

from typing import Protocol

from services.catalog.routines import RoutineCatalog
from services.catalog.schema_cache import SchemaCache
from services.config import ServiceConfig
from services.plan.bind_nested import WriteGuard
from services.plan.bind_read import RelatedGuard, bind_read
from services.plan.bind_write import bind_write
from services.plan.routine_args import (
    UnknownRoutine,
    bind_call,
    choose_overload,
    gather_params,
    split_inline,
)
from services.plan.routine_rows import routine_rows
from services.plan.types import (
    Bound,
    BoundRoutineCall,
    BoundRoutineList,
    BoundSchemaRead,
    BoundTableList,
    Plan,
    RoutineCall,
    RoutineList,
    SchemaRead,
    TableList,
    TableRead,
    TableWrite,
)

__all__ = ["Catalogs", "RelatedGuard", "WriteGuard", "bind_plan"]


class Catalogs(Protocol):
    """What binding reads of a service: its settings and catalogs (a LiveService, or in the
    unit tests a hand-built stand-in)."""

    @property
    def config(self) -> ServiceConfig: ...

    def schema(self, *, refresh: bool = False) -> SchemaCache: ...

    def routines(self, *, refresh: bool = False) -> RoutineCatalog: ...


def bind_plan(
    plan: Plan,
    live: Catalogs,
    guard: RelatedGuard | None = None,
    write_guard: WriteGuard | None = None,
) -> Bound:
    """Resolve every name of `plan` for this service; `guard` decides on embedded tables,
    `write_guard` on the tables of nested related writes."""
    if isinstance(plan, TableRead):
        return bind_read(plan, live.schema(refresh=plan.refresh), live.config, guard)
    if isinstance(plan, TableWrite):
        return bind_write(plan, live.schema(), live.config, guard, write_guard)
    if isinstance(plan, TableList):
        return BoundTableList(plan, live.schema(refresh=plan.refresh))
    if isinstance(plan, SchemaRead):
        schema = live.schema(refresh=plan.refresh)
        table = schema.table(plan.path[0]) if plan.path else None
        return BoundSchemaRead(plan, schema, table)
    if isinstance(plan, RoutineList):
        return BoundRoutineList(plan, live.routines(refresh=plan.refresh))
    if isinstance(plan, RoutineCall):
        return _bind_routine_call(plan, live)
    return plan  # service root, schema changes, SQL and the spec: no names to resolve here


def _bind_routine_call(plan: RoutineCall, live: Catalogs) -> BoundRoutineCall:
    """The routine the path names (with inline arguments, `fn(1,2)`), its overload chosen by
    the parameters given, and each argument coerced for its parameter."""
    catalog = live.routines(refresh=plan.refresh)
    name, inline = plan.name, None
    overloads = catalog.find(plan.kind, plan.name)
    if overloads is None:
        name, inline = split_inline(plan.name)
        overloads = catalog.find(plan.kind, name) if name != plan.name else None
    if overloads is None:
        raise UnknownRoutine.named(plan.kind, name)
    given = gather_params(plan.body_params, inline, dict(plan.query), overloads)
    prefix = f"Failed to call database stored {plan.kind}."
    call = bind_call(choose_overload(overloads, given), given, prefix)
    limit, offset = routine_rows(plan.options, call.routine, live.config.effective_max_records)
    return BoundRoutineCall(plan, call, limit=limit, offset=offset)
