"""Remembered plans for the commonest call, `GET /_table/{t}/{id}` with no options.

Parsing, binding and compiling such a read give the same plan, bound plan and statement text for
every id of the table (about a fifth of its CPU): after the full stages have run once for a
table, later reads reuse them and only coerce the new id, through the same `key_tuple` the bind
stage uses, so a bad id is refused with the same 400. Nothing is remembered for a read with a
query, a body, a row filter or an embedded table; a reloaded schema (a new SchemaCache object) or
service (a new LiveService) is a new key, so a remembered plan never outlives what it was bound
against.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, TypeVar

from core.request import ApiRequest
from rbac.policy import Grant
from services.plan.bind_names import key_tuple
from services.plan.types import BoundRead, Plan, TableRead
from services.registry import LiveService
from services.sql.compile import Statement

T = TypeVar("T")
_LIMIT = 1024  # tables x services x Accept values; cleared when full


@dataclass(frozen=True, slots=True)
class KeyRead:
    """What a single-id read of one table parses, binds and compiles to, but for the id."""

    plan: TableRead
    bound: BoundRead
    query: Any  # the statement text; its only parameters are the key's values
    anchors: tuple[object, ...]  # the service and schema the key names by id, kept alive


_remembered: dict[tuple[Any, ...], KeyRead] = {}
_lock = threading.Lock()


def _eligible(req: ApiRequest, grant: Grant) -> bool:
    segments = req.segments
    return (
        len(segments) == 3
        and segments[0] == "_table"
        and segments[2] != ""
        and req.verb == "GET"
        and not req.query
        and req.body is None
        and grant.row_filter is None
    )


def _key(req: ApiRequest, live: LiveService) -> tuple[Any, ...]:
    return (id(live), id(live.schema()), req.segments[1], req.accept)


def recall(
    req: ApiRequest, live: LiveService, grant: Grant
) -> tuple[TableRead, BoundRead, Statement] | None:
    """The plan, bound plan and statement of this read, if its shape was remembered."""
    if not _eligible(req, grant):
        return None
    found = _remembered.get(_key(req, live))
    if found is None:
        return None
    raw = req.segments[2]
    key = key_tuple(found.bound.keys, raw)  # a bad id: the bind stage's own 400
    bound = copy_slotted(found.bound, {"key_values": (key,), "key_labels": (raw,)})
    return copy_slotted(found.plan, {"record_id": raw}), bound, Statement(found.query, list(key))


def copy_slotted(template: T, changes: dict[str, Any]) -> T:
    """`dataclasses.replace` for a frozen, slotted dataclass without its per-call field
    introspection and __init__ (measured at ~40 % of this module's time under load)."""
    cls: Any = type(template)
    copy = object.__new__(cls)
    for name in cls.__slots__:  # a slotted dataclass: its fields
        value = changes[name] if name in changes else getattr(template, name)
        object.__setattr__(copy, name, value)
    return copy  # type: ignore[no-any-return]


def remember(
    req: ApiRequest, live: LiveService, grant: Grant, plan: Plan, bound: Any, stmt: Any
) -> None:
    """Keep what the full stages made of an eligible read, when it depends on nothing but the
    table (no related tables, no filter; one key value as the only parameter)."""
    if not (_eligible(req, grant) and isinstance(plan, TableRead)):
        return
    if not isinstance(bound, BoundRead) or not isinstance(stmt, Statement):
        return
    if bound.related or bound.where is not None or not bound.single:
        return
    if bound.key_values is None or len(bound.key_values) != 1:
        return
    if list(bound.key_values[0]) != stmt.params:
        return
    entry = KeyRead(plan, bound, stmt.query, (live, live.schema()))
    with _lock:
        if len(_remembered) >= _LIMIT:
            _remembered.clear()
        _remembered[_key(req, live)] = entry


def forget() -> None:
    """Drop every remembered plan (tests)."""
    with _lock:
        _remembered.clear()
