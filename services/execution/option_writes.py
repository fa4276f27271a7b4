"""Execute a write with WriteOptions (the PostgREST dialect's): one statement per shape of rows,
all in one transaction. A failed row undoes the others, as does a row the caller's row filter
does not admit (403), more rows changed than `max_affected` (PGRST124), anything but one row
when `expect_one` (406), and a dry run (answered as if committed). tables.run_write calls it.
"""

from __future__ import annotations

from typing import Any

import psycopg

from core.errors import BadRequest, Forbidden, GatewayError
from services.catalog.schema_cache import Column
from services.db import executor
from services.plan.bind_names import conjunction
from services.plan.types import BoundNode, BoundWrite, WriteOptions
from services.plan.values import dumps_exact
from services.registry import LiveService
from services.sql.compile import Statement
from services.sql.writes import (
    compile_rows_defaults,
    compile_rows_delete,
    compile_rows_insert,
    compile_rows_update,
)

DENIED = "The row does not satisfy the role's row filter; nothing was written."


class NotSingular(GatewayError):
    status = 406
    default_message = "Cannot coerce the result to a single JSON object"


def _runs(write: BoundWrite) -> list[tuple[tuple[Column, ...], list[dict[str, Any]]]]:
    """The records in runs written by one INSERT each: all together, or (missing_default) runs
    of records giving the same keys, so the keys a record leaves out take their defaults."""
    options = write.options
    rows = [r.values for r in write.records]
    if options is None or not options.missing_default:
        return [(write.given, rows)]
    runs: list[tuple[tuple[Column, ...], list[dict[str, Any]]]] = []
    for row in rows:
        given = tuple(c for c in write.given if c.name in row)
        if runs and runs[-1][0] == given:
            runs[-1][1].append(row)
        else:
            runs.append((given, [row]))
    return runs


def statements_for(write: BoundWrite, row_filter: BoundNode | None) -> list[Statement]:
    """The statements of the write, the caller's row filter ANDed into what it may touch and
    checked on what it writes."""
    table, outputs = write.table, write.outputs
    if write.action == "delete":
        return [compile_rows_delete(table, outputs, conjunction(write.where, row_filter))]
    if write.action == "update":
        if not write.given or not write.records:
            return []
        body = dumps_exact(write.records[0].values)
        where = conjunction(write.where, row_filter)
        return [compile_rows_update(table, write.given, body, outputs, where, row_filter)]
    merge = write.options is not None and write.options.duplicates == "merge"
    found: list[Statement] = []
    for given, rows in _runs(write):
        if not given:
            found += [compile_rows_defaults(table, outputs, row_filter) for _ in rows]
            continue
        found.append(
            compile_rows_insert(
                table,
                given,
                dumps_exact(rows),
                outputs,
                conflict=write.conflict,
                merge=merge,
                merge_where=write.merge_where,
                check=row_filter,
            )
        )
    return found


def _run(conn: psycopg.Connection[Any], statements: list[Statement], checked: bool) -> list[str]:
    rows: list[str] = []
    for stmt in statements:
        for found in executor.run(conn, stmt.query, stmt.params).fetchall():
            if checked and found[1] is not True:
                raise Forbidden(DENIED, context={"pgrst": "42501"})
            rows.append(str(found[0]))
    return rows


def _limits(options: WriteOptions, rows: list[str]) -> None:
    if options.max_affected is not None and len(rows) > options.max_affected:
        raise BadRequest(
            "Query result exceeds max-affected preference constraint",
            context={"pgrst": "PGRST124", "details": f"The query affects {len(rows)} rows"},
        )
    if options.expect_one and len(rows) != 1:
        raise NotSingular(
            context={"pgrst": "PGRST116", "details": f"The result contains {len(rows)} rows"}
        )


def run_with_options(
    live: LiveService, write: BoundWrite, row_filter: BoundNode | None
) -> list[str]:
    """Each changed row's output JSON text (the outputs, else the primary key)."""
    options = write.options or WriteOptions()
    statements = statements_for(write, row_filter)
    checked = row_filter is not None and write.action != "delete"
    with (
        executor.connection(live, write=True) as conn,
        conn.transaction(force_rollback=options.dry_run),
    ):
        rows = _run(conn, statements, checked)
        _limits(options, rows)
    return rows
