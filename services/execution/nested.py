"""Execute a record with nested related writes (spec §3.12), inside the caller's transaction.

Order: belongs_to parents first (their key copied into the record's FK), then the record,
then its has_many/has_one children (FK set to the record's key) and its many_many far records
(each linked by a junction row). Every statement is one of services/sql/writes.py's; an error
of a related record is raised naming it (`order_items_by_order_id[1]: ...`), and the caller's
transaction undoes everything written for the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import psycopg

from core.errors import Forbidden, GatewayError, NotFound
from services.catalog.schema_cache import Column, Table
from services.db import executor
from services.db.pgerrors import classify
from services.plan.bind_nested import named
from services.plan.types import BoundNode, NestedRecord, NestedWrite
from services.sql.compile import Statement
from services.sql.writes import (
    compile_delete,
    compile_insert,
    compile_key_select,
    compile_link_exists,
    compile_update,
)

DENIED = "Denied access to some of the requested fields."

# Writes the record itself with these values and returning columns; its row as JSON text.
OwnWrite = Callable[[dict[str, Any], tuple[Column, ...]], str]


def _run(conn: psycopg.Connection[Any], stmt: Statement) -> Any:
    try:
        return executor.run(conn, stmt.query, stmt.params).fetchone()
    except psycopg.Error as exc:
        raise classify(exc) from None


def _columns(table: Table, *groups: tuple[str, ...] | tuple[Column, ...]) -> tuple[Column, ...]:
    """Table columns named in any group (names or Columns), in table order."""
    wanted = {c if isinstance(c, str) else c.name for group in groups for c in group}
    return tuple(c for c in table.columns if c.name in wanted)


def write_with_related(
    conn: psycopg.Connection[Any],
    table: Table,
    values: dict[str, Any],
    nested: tuple[NestedWrite, ...],
    returning: tuple[Column, ...],
    own: OwnWrite,
    *,
    allow_delete: bool,
) -> tuple[str, dict[str, Any]]:
    """Write a record and its related records: the record's JSON text as `own` wrote it, and
    its row parsed (returning's columns and the keys its children link to)."""
    values = dict(values)
    for part in nested:
        if part.relation.type == "belongs_to":
            parent = _related_row(conn, part, part.records[0], {}, allow_delete)
            for mine, theirs in zip(part.relation.fields, part.relation.ref_fields, strict=True):
                values[mine] = parent[theirs]
    linked = [p for p in nested if p.relation.type != "belongs_to"]
    columns = _columns(table, returning, *(p.relation.fields for p in linked))
    text = own(values, columns)
    row: dict[str, Any] = orjson.loads(text)
    for part in linked:
        for record in part.records:
            if part.relation.type == "many_many":
                far = _related_row(conn, part, record, {}, allow_delete)
                _link(conn, part, row, far, record.label)
            else:
                link = {
                    theirs: row[mine]
                    for mine, theirs in zip(
                        part.relation.fields, part.relation.ref_fields, strict=True
                    )
                }
                _related_row(conn, part, record, link, allow_delete)
    return text, row


def _related_row(
    conn: psycopg.Connection[Any],
    part: NestedWrite,
    record: NestedRecord,
    link: dict[str, Any],
    allow_delete: bool,
) -> dict[str, Any]:
    """Create, update, link or unlink one related record; its row (the columns the relation
    reads), or the error naming it."""
    table = part.table
    keys = table.key_columns() if table.primary_key else ()
    relation = part.relation
    needed = relation.ref_fields if relation.type in ("belongs_to", "many_many") else ()
    try:
        if record.unlink and record.key is not None:
            if allow_delete:
                stmt = compile_delete(
                    table, keys, keys=keys, key=record.key, where=part.where("DELETE")
                )
                gone: dict[str, Any] = _checked(_run(conn, stmt), None, record)
                return gone
            nulls = {name: None for name in link}
            stmt = _update(part, keys, record, {**record.values, **nulls}, keys)
            unlinked: dict[str, Any] = _checked(_run(conn, stmt), part.where("PATCH"), record)
            return unlinked

        def own(values: dict[str, Any], columns: tuple[Column, ...]) -> str:
            if record.key is None:
                check = part.where("POST")
                stmt = compile_insert(table, values, columns, check=check)
            elif values:
                check = part.where("PATCH")
                stmt = _update(part, keys, record, values, columns)
            else:
                check = None
                stmt = compile_key_select(table, keys, record.key, columns, part.where("GET"))
            return str(_checked(_run(conn, stmt), check, record, raw=True))

        returning = _columns(table, needed, keys)
        return write_with_related(
            conn,
            table,
            {**record.values, **link},
            record.nested,
            returning,
            own,
            allow_delete=allow_delete,
        )[1]
    except GatewayError as exc:
        raise named(exc, record.label) from None


def _update(
    part: NestedWrite,
    keys: tuple[Column, ...],
    record: NestedRecord,
    values: dict[str, Any],
    columns: tuple[Column, ...],
) -> Statement:
    where = part.where("PATCH")
    return compile_update(
        part.table, values, columns, keys=keys, key=record.key, where=where, check=where
    )


def _checked(row: Any, check: BoundNode | None, record: NestedRecord, *, raw: bool = False) -> Any:
    """The written row (JSON text with `raw`, else parsed), or the record's 404 / 403."""
    if row is None or row[0] is None:
        label = ",".join(str(v) for v in record.key or ())
        raise NotFound(f"Record with identifier '{label}' not found.")
    if check is not None and row[1] is not True:
        raise Forbidden(DENIED)
    return row[0] if raw else orjson.loads(row[0])


def _link(
    conn: psycopg.Connection[Any],
    part: NestedWrite,
    row: dict[str, Any],
    far: dict[str, Any],
    label: str,
) -> None:
    """A junction row linking the record and a far record, unless one already does."""
    junction, relation = part.junction, part.relation
    if junction is None:
        raise TypeError("a many_many relationship is linked through its junction")
    values = {j: row[f] for j, f in zip(relation.junction_fields, relation.fields, strict=True)}
    values |= {
        j: far[f] for j, f in zip(relation.junction_ref_fields, relation.ref_fields, strict=True)
    }
    check = part.where("junction")
    try:
        found = _run(conn, compile_link_exists(junction, values))
        if found and found[0]:
            return
        columns = tuple(junction.column(n) for n in values)
        result = _run(conn, compile_insert(junction, values, columns, check=check))
        if check is not None and result[1] is not True:
            raise Forbidden(DENIED)
    except GatewayError as exc:
        raise named(exc, label) from None
