"""Bind stage for nested related writes (spec §3.12): a written record's relationship keys ->
NestedWrites, run with the record in one transaction (services/execution/nested.py).

- belongs_to (an object): the parent is written first and its key copied into the FK;
- has_many / has_one (a list, or one object): children are created, or updated when they give
  their primary key, with their FK set to the record's key; a child that gives its key and sets
  its FK to null is unlinked (deleted instead with `allow_related_delete=true`);
- many_many (a list): far records are created, or updated/linked when they give their key, and
  a junction row links each one (an existing link is kept, not doubled).

Children absent from a list are left as they are. Each related record needs the caller's
POST (create), PATCH (update, unlink) or DELETE right on its table; its row filter applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Relation, SchemaCache, Table
from services.plan.bind_names import coerce_key
from services.plan.types import BoundNode, NestedRecord, NestedWrite
from services.plan.write_values import record_values

# The caller's right to write a related table with a verb: its row filter (None: every row),
# or a refusal raised as a GatewayError. None for admins.
WriteGuard = Callable[[Table, str], BoundNode | None]

_SINGLE = frozenset({"belongs_to"})


def split_related(table: Table, record: Any) -> tuple[Any, list[tuple[Relation, Any]]]:
    """The record without its relationship keys, and each relationship key's value."""
    if type(record) is not dict or not table.relations:
        return record, []
    found: list[tuple[Relation, Any]] = []
    plain: dict[Any, Any] = {}
    for key, value in record.items():
        relation = None
        if isinstance(key, str) and table.find_column(key) is None:
            relation = table.find_relation(key)
        if relation is None:
            plain[key] = value
        else:
            found.append((relation, value))
    return (plain, found) if found else (record, [])


def has_related(table: Table, record: Any) -> bool:
    """Whether a record (a JSON object) names any relationship of `table`."""
    return type(record) is dict and any(
        isinstance(k, str) and table.find_column(k) is None and table.find_relation(k) is not None
        for k in record
    )


def named(exc: GatewayError, label: str) -> GatewayError:
    """The same error, its message naming the related record it is about (an error a deeper
    record named already, by its whole path, is kept as it is)."""
    context = exc.context if isinstance(exc.context, dict) else {}
    if "related" in context:
        return exc
    out = type(exc)(f"{label}: {exc.message}", context={**context, "related": label}, code=exc.code)
    out.cause = exc.cause
    return out


def link_fields(pairs: list[tuple[Relation, Any]]) -> frozenset[str]:
    """The record's own columns that its belongs_to parents fill."""
    return frozenset(f for rel, value in pairs if rel.type in _SINGLE and value for f in rel.fields)


def bind_nested(
    schema: SchemaCache,
    pairs: list[tuple[Relation, Any]],
    guard: WriteGuard | None,
    allow_delete: bool = False,
    prefix: str = "",
) -> tuple[NestedWrite, ...]:
    """The NestedWrites of one record's relationship keys (see the module docstring)."""
    out = []
    for relation, value in pairs:
        if value is None and relation.type in _SINGLE:
            continue  # no parent given: the FK is whatever the record says
        label = f"{prefix}{relation.name}"
        items = _items(relation, value, label)
        other = schema.table(relation.ref_table)
        junction = schema.table(relation.junction_table) if relation.junction_table else None
        records = []
        for index, item in enumerate(items):
            where = label if relation.type in _SINGLE else f"{label}[{index}]"
            try:
                records.append(_bind_one(schema, relation, other, item, where, guard, allow_delete))
            except GatewayError as exc:
                raise named(exc, where) from None
        out.append(
            NestedWrite(
                relation=relation,
                table=other,
                records=tuple(records),
                junction=junction,
                filters=_filters(relation, other, junction, records, guard, allow_delete),
            )
        )
    return tuple(out)


def _items(relation: Relation, value: Any, label: str) -> list[Any]:
    if relation.type in _SINGLE:
        if not isinstance(value, dict):
            raise BadRequest(f"{label}: a belongs_to relationship takes one record (an object).")
        return [value]
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise BadRequest(f"{label}: related records must be a list of objects.")
    return value


def _bind_one(
    schema: SchemaCache,
    relation: Relation,
    table: Table,
    item: Any,
    label: str,
    guard: WriteGuard | None,
    allow_delete: bool,
) -> NestedRecord:
    if not isinstance(item, dict):
        raise BadRequest("Each record must be a JSON object.")
    plain, deeper = split_related(table, item)
    # has_many/has_one children: their link to the parent is set by the write, not the client
    links = frozenset(relation.ref_fields) if relation.type in ("has_many", "has_one") else ()
    unlink = False
    own: dict[str, Any] = {}
    for key, value in plain.items():
        column = table.find_column(key) if isinstance(key, str) else None
        if column is not None and column.name in links:
            unlink = unlink or value is None
            continue
        own[key] = value
    key = _given_key(table, own)
    if key is None:
        unlink = False  # a new child is always linked
    values = record_values(
        table,
        own,
        creating=key is None,
        skip=frozenset(table.primary_key) if key is not None else frozenset(),
        given=frozenset(links) | link_fields(deeper),
        allow_empty=key is not None or bool(links) or bool(link_fields(deeper)),
    )
    nested = bind_nested(schema, deeper, guard, allow_delete, f"{label}.") if deeper else ()
    return NestedRecord(values, key=key, label=label, unlink=unlink, nested=nested)


def _given_key(table: Table, record: dict[str, Any]) -> tuple[Any, ...] | None:
    """The primary key a related record gives (all its columns, none null), coerced."""
    if not table.primary_key:
        return None
    found = {}
    for key, value in record.items():
        column = table.find_column(key) if isinstance(key, str) else None
        if column is not None and column.name in table.primary_key and value is not None:
            found[column.name] = value
    if len(found) != len(table.primary_key):
        return None
    return coerce_key(table.key_columns(), tuple(found[name] for name in table.primary_key))


def _filters(
    relation: Relation,
    table: Table,
    junction: Table | None,
    records: list[NestedRecord],
    guard: WriteGuard | None,
    allow_delete: bool,
) -> dict[str, BoundNode | None]:
    """The caller's row filter on the related table for each verb its records need (a
    refusal raises); a many_many also creates junction rows."""
    if guard is None:
        return {}
    children = relation.type in ("has_many", "has_one")
    verbs = set()
    for record in records:
        if record.key is None:
            verbs.add("POST")
        elif record.unlink:
            verbs.add("DELETE" if allow_delete else "PATCH")
        elif record.values or children:
            verbs.add("PATCH")  # a child's FK is set even when nothing else changes
        else:
            verbs.add("GET")  # a parent or far record named by its key only: read, linked
    found: dict[str, BoundNode | None] = {v: guard(table, v) for v in sorted(verbs)}
    if junction is not None and records:
        found["junction"] = guard(junction, "POST")
    return found
