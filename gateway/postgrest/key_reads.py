"""Remembered plans for the dialect's commonest read, `GET /rest/<svc>/<t>?<col>=eq.<v>`
(optionally with `select`), as gateway/key_reads.py does for `/api/v2`'s `GET _table/{t}/{id}`.

Binding and compiling such a read give the same bound plan and statement text for every value:
after the full stages have run once for a shape (table, column, select, Accept), later reads
reuse its plan, bound plan and statement text, with only the new value coerced by the bind
stage's own `coerce_text` (so a bad value is the same 400). Nothing is remembered with
a row filter, embedding, another query parameter or a Range, count or stream; a reloaded schema
or service is a new key.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from gateway.key_reads import copy_slotted
from rbac.policy import Grant
from services.plan.pgrst_parse import PgrstQuery
from services.plan.types import BoundCondition, BoundRead, TableRead
from services.plan.values import coerce_text
from services.registry import LiveService
from services.sql.compile import Statement, page_params

_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class _Shape:
    plan: TableRead  # the same for every value: only the bound plan carries the value
    bound: BoundRead
    condition: BoundCondition  # bound.where: the one condition whose value changes
    query: Any  # the statement text (compile_page's; its parameters follow the value)
    anchors: tuple[object, ...]  # the service and schema the key names by id, kept alive


_remembered: dict[tuple[Any, ...], _Shape] = {}
_lock = threading.Lock()


def _filter_of(query: PgrstQuery) -> tuple[str, str, str | None] | None:
    """(column, raw value, select) when the read is one `col=eq.v` and at most a `select`."""
    if query.range_start is not None or query.count or query.stream is not None:
        return None
    found: tuple[str, str] | None = None
    select: str | None = None
    for key, value in query.pairs:
        if key == "select":
            if select is not None or "(" in value or "->" in value:
                return None
            select = value
        elif found is None and value.startswith("eq.") and key.isidentifier():
            found = (key, value[3:])
        else:
            return None
    return None if found is None else (found[0], found[1], select)


def _key(
    live: LiveService, query: PgrstQuery, column: str, select: str | None, accept: str
) -> tuple[Any, ...]:
    return (id(live), id(live.schema()), query.table, column, select, accept)


def recall(
    query: PgrstQuery, accept: str, live: LiveService, grant: Grant
) -> tuple[TableRead, BoundRead, Statement] | None:
    """The plan, bound plan and statement of this read, if its shape was remembered."""
    if grant.row_filter is not None:
        return None
    parts = _filter_of(query)
    if parts is None:
        return None
    column, raw, select = parts
    found = _remembered.get(_key(live, query, column, select, accept))
    if found is None:
        return None
    value = coerce_text(found.condition.column, raw)  # a bad value: the bind stage's own 400
    where = copy_slotted(found.condition, {"value": value})
    bound = copy_slotted(found.bound, {"where": where})
    return found.plan, bound, Statement(found.query, page_params(bound, where))


def remember(
    query: PgrstQuery,
    accept: str,
    live: LiveService,
    grant: Grant,
    plan: Any,
    bound: Any,
    stmt: Any,
) -> None:
    """Keep what the full stages made of an eligible read: one condition, `=`, on a column of
    the table, its coerced value the statement's only parameter."""
    if grant.row_filter is not None or not isinstance(plan, TableRead):
        return
    parts = _filter_of(query)
    if parts is None or not isinstance(bound, BoundRead) or not isinstance(stmt, Statement):
        return
    column, raw, select = parts
    where = bound.where
    if bound.related or not isinstance(where, BoundCondition) or where.path is not None:
        return
    if where.op != "=" or where.column.name != column or bound.having is not None:
        return
    if stmt.params != page_params(bound, where):  # not the page statement recall rebuilds
        return
    if coerce_text(where.column, raw) != where.value:
        return
    entry = _Shape(plan, bound, where, stmt.query, (live, live.schema()))
    with _lock:
        if len(_remembered) >= _LIMIT:
            _remembered.clear()
        _remembered[_key(live, query, column, select, accept)] = entry


def forget() -> None:
    """Drop every remembered plan (tests)."""
    with _lock:
        _remembered.clear()
