"""Bind and execute a PostgREST write (services/plan/pgrst_write.py) in one transaction.

Names are checked against the schema cache first (an unknown column is PGRST204, as PostgREST
answers); values are parsed by PostgreSQL for their columns (services/sql/pgrst_writes.py). The
whole request is one transaction: a failed row undoes the others, as does a row the caller's
row filter does not admit (403), `max-affected` exceeded with `handling=strict` (PGRST124), a
single object asked for when not exactly one row changed (406), and `tx=rollback` (a dry run,
answered as if committed). Cached reads of the table are dropped whatever happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from core.errors import BadRequest, Forbidden, GatewayError
from services.catalog.schema_cache import Column, Table, UnknownColumn
from services.db import executor
from services.execution import read_cache
from services.plan.bind_names import bind_filter, conjunction
from services.plan.pgrst_embed_bind import bind_outputs
from services.plan.pgrst_write import PgrstWrite
from services.plan.types import BoundNode, BoundOutput
from services.plan.values import dumps_exact
from services.registry import LiveService
from services.sql.compile import Statement
from services.sql.pgrst_writes import (
    compile_delete_rows,
    compile_insert_defaults,
    compile_insert_rows,
    compile_update_rows,
)

RowFilter = Callable[[Table, str], BoundNode | None]
_VERBS = {"create": "POST", "update": "PATCH", "delete": "DELETE"}
DENIED = "The row does not satisfy the role's row filter; nothing was written."


class NotSingular(GatewayError):
    status = 406
    default_message = "Cannot coerce the result to a single JSON object"


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """What a write changed: each row's output JSON text (the representation when asked
    for, else the primary key), and the table (for a Location header)."""

    rows: list[str]
    table: Table


def unknown_column(table: Table, name: str) -> UnknownColumn:
    return UnknownColumn(
        f"Could not find the '{name}' column of '{table.name}' in the schema cache",
        context={"pgrst": "PGRST204"},
    )


def _column(table: Table, name: str) -> Column:
    column = table.find_column(name)
    if column is None or column.name != name:
        raise unknown_column(table, name)
    return column


def _payload_columns(plan: PgrstWrite, table: Table) -> tuple[Column, ...]:
    """The columns written: `columns=`, else the keys of the first object (every object must
    have the same keys then, as PostgREST requires)."""
    rows = plan.write.records
    if plan.columns is not None:
        return tuple(_column(table, n) for n in dict.fromkeys(plan.columns))
    first = tuple(rows[0]) if rows else ()
    if not plan.missing_default and any(set(r) != set(first) for r in rows):
        raise BadRequest(
            "All object keys must match",
            context={
                "pgrst": "PGRST102",
                "details": "Every object of the array needs the same keys",
            },
        )
    names = dict.fromkeys(first)
    for row in rows[1:] if plan.missing_default else ():
        names.update(dict.fromkeys(row))
    return tuple(_column(table, n) for n in names)


def _outputs(plan: PgrstWrite, table: Table) -> tuple[BoundOutput, ...]:
    if plan.returning == "representation":
        if plan.select is None:
            return tuple(BoundOutput(c, c.name) for c in table.columns)
        return bind_outputs(table, plan.select)
    return tuple(BoundOutput(table.column(k), k) for k in table.primary_key)


def _conflict(plan: PgrstWrite, table: Table) -> tuple[Column, ...] | None:
    if plan.resolution is None:
        return None
    if plan.on_conflict is not None:
        return tuple(_column(table, n) for n in plan.on_conflict)
    if not table.primary_key:
        raise BadRequest(
            f"Table '{table.name}' has no primary key; name the unique columns in on_conflict",
            context={"pgrst": "PGRST100"},
        )
    return tuple(table.column(k) for k in table.primary_key)


def _groups(
    plan: PgrstWrite, columns: tuple[Column, ...]
) -> list[tuple[tuple[Column, ...], list[Any]]]:
    """The rows in runs written by one INSERT each: all together, or (missing=default) runs of
    rows giving the same keys, so the keys a row leaves out take their defaults."""
    rows = list(plan.write.records)
    if not plan.missing_default:
        return [(columns, rows)]
    groups: list[tuple[tuple[Column, ...], list[Any]]] = []
    for row in rows:
        given = tuple(c for c in columns if c.name in row)
        if groups and groups[-1][0] == given:
            groups[-1][1].append(row)
        else:
            groups.append((given, [row]))
    return groups


def _statements(
    plan: PgrstWrite,
    table: Table,
    row_filter: BoundNode | None,
    merge_filter: BoundNode | None = None,
) -> list[Statement]:
    outputs = _outputs(plan, table)
    action = plan.write.action
    if action == "delete":
        where = bind_filter(plan.write.filter, table) if plan.write.filter is not None else None
        return [compile_delete_rows(table, outputs, conjunction(where, row_filter))]
    columns = _payload_columns(plan, table)
    if action == "update":
        if not columns:
            return []
        where = bind_filter(plan.write.filter, table) if plan.write.filter is not None else None
        row = plan.write.records[0]
        body = dumps_exact({c.name: row.get(c.name) for c in columns})
        return [
            compile_update_rows(
                table, columns, body, outputs, conjunction(where, row_filter), row_filter
            )
        ]
    conflict = _conflict(plan, table)
    merge = plan.resolution == "merge-duplicates"
    statements = []
    for given, rows in _groups(plan, columns):
        if not given:
            statements += [compile_insert_defaults(table, outputs, row_filter) for _ in rows]
            continue
        body = dumps_exact([{c.name: r.get(c.name) for c in given} for r in rows])
        statements.append(
            compile_insert_rows(
                table,
                given,
                body,
                outputs,
                conflict=conflict,
                merge=merge,
                merge_where=merge_filter,
                check=row_filter,
            )
        )
    return statements


def _run(conn: psycopg.Connection[Any], statements: list[Statement], checked: bool) -> list[str]:
    rows: list[str] = []
    for stmt in statements:
        for found in executor.run(conn, stmt.query, stmt.params).fetchall():
            if checked and found[1] is not True:
                raise Forbidden(DENIED, context={"pgrst": "42501"})
            rows.append(str(found[0]))
    return rows


def _limits(plan: PgrstWrite, rows: list[str], singular: bool) -> None:
    if plan.max_affected is not None and len(rows) > plan.max_affected:
        raise BadRequest(
            "Query result exceeds max-affected preference constraint",
            context={"pgrst": "PGRST124", "details": f"The query affects {len(rows)} rows"},
        )
    if singular and plan.returning == "representation" and len(rows) != 1:
        raise NotSingular(
            context={"pgrst": "PGRST116", "details": f"The result contains {len(rows)} rows"}
        )


def run_pgrst_write(
    live: LiveService,
    plan: PgrstWrite,
    row_filter_of: RowFilter,
    *,
    singular: bool = False,
) -> WriteOutcome:
    """Bind `plan` against the schema cache and run it; `row_filter_of(table, verb)` is the
    caller's row filter for the verb on the table (None: every row), or raises a refusal."""
    table = live.schema().table(plan.write.table)
    row_filter = row_filter_of(table, _VERBS[plan.write.action])
    merge_filter = None
    if plan.resolution == "merge-duplicates":  # it updates rows too
        merge_filter = row_filter_of(table, "PATCH")
    statements = _statements(plan, table, row_filter, merge_filter)
    checked = row_filter is not None and plan.write.action != "delete"
    try:
        with (
            executor.connection(live, write=True) as conn,
            conn.transaction(force_rollback=plan.rollback),
        ):
            rows = _run(conn, statements, checked)
            _limits(plan, rows, singular)
    finally:
        if live.config.cache_enabled and not plan.rollback:
            read_cache.invalidate_table(live.config.id, table.name)
    return WriteOutcome(rows=rows, table=table)


def rows_json(outcome: WriteOutcome) -> bytes:
    return b"[" + b",".join(r.encode() for r in outcome.rows) + b"]"


def first_key(outcome: WriteOutcome) -> dict[str, Any]:
    """The primary key of the first row written (for `Location`)."""
    if not outcome.rows:
        return {}
    found = orjson.loads(outcome.rows[0])
    return found if isinstance(found, dict) else {}
