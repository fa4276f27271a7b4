"""Bind stage for a write with WriteOptions (the PostgREST dialect's): every name checked
against the schema cache (an unknown one is PGRST204 with `strict`), the columns written, the
conflict target of an upsert, each row's outputs, and the row filter a merge must satisfy.
Values stay as the client sent them: PostgreSQL parses each for its column (services/sql/writes.py).
"""

from __future__ import annotations

from core.errors import BadRequest
from services.catalog.schema_cache import Column, Table, UnknownColumn
from services.plan.bind_names import bind_filter
from services.plan.bind_nested import WriteGuard
from services.plan.pgrst_embed_bind import bind_outputs
from services.plan.types import (
    BoundOutput,
    BoundRecord,
    BoundWrite,
    TableWrite,
    WriteOptions,
)


def unknown_column(table: Table, name: str) -> UnknownColumn:
    return UnknownColumn(
        f"Could not find the '{name}' column of '{table.name}' in the schema cache",
        context={"pgrst": "PGRST204"},
    )


def _column(table: Table, name: str, strict: bool) -> Column | None:
    column = table.find_column(name)
    if column is None or column.name != name:
        if strict:
            raise unknown_column(table, name)
        return None
    return column


def _given(plan: TableWrite, options: WriteOptions, table: Table) -> tuple[Column, ...]:
    """The columns written: `columns`, else the keys of the first record (every record must
    have the same keys then, unless absent keys take their defaults)."""
    rows = plan.records
    if options.columns is not None:
        names = dict.fromkeys(options.columns)
    else:
        first = tuple(rows[0]) if rows else ()
        if not options.missing_default and any(set(r) != set(first) for r in rows):
            raise BadRequest(
                "All object keys must match",
                context={
                    "pgrst": "PGRST102",
                    "details": "Every object of the array needs the same keys",
                },
            )
        names = dict.fromkeys(first)
        for row in rows[1:] if options.missing_default else ():
            names.update(dict.fromkeys(row))
    found = (_column(table, n, options.strict) for n in names)
    return tuple(c for c in found if c is not None)


def _outputs(options: WriteOptions, table: Table) -> tuple[BoundOutput, ...]:
    if options.represent:
        if options.outputs is None:
            return tuple(BoundOutput(c, c.name) for c in table.columns)
        return bind_outputs(table, options.outputs)
    return tuple(BoundOutput(table.column(k), k) for k in table.primary_key)


def _conflict(options: WriteOptions, table: Table) -> tuple[Column, ...] | None:
    if options.duplicates is None:
        return None
    if options.on_conflict is not None:
        found = (_column(table, n, True) for n in options.on_conflict)
        return tuple(c for c in found if c is not None)
    if not table.primary_key:
        raise BadRequest(
            f"Table '{table.name}' has no primary key; name the unique columns in on_conflict",
            context={"pgrst": "PGRST100"},
        )
    return tuple(table.column(k) for k in table.primary_key)


def _records(
    plan: TableWrite, options: WriteOptions, given: tuple[Column, ...]
) -> tuple[BoundRecord, ...]:
    """Each record's values for the given columns: a key it leaves out is NULL, or (with
    `missing_default`) left out, so it takes the column's default."""
    if plan.action == "delete":
        return ()
    rows = plan.records[:1] if plan.action == "update" else plan.records
    if options.missing_default and plan.action == "create":
        return tuple(BoundRecord({c.name: r[c.name] for c in given if c.name in r}) for r in rows)
    return tuple(BoundRecord({c.name: r.get(c.name) for c in given}) for r in rows)


def bind_with_options(
    plan: TableWrite, options: WriteOptions, table: Table, guard: WriteGuard | None
) -> BoundWrite:
    """Resolve a TableWrite that carries WriteOptions; `guard(table, verb)` is the caller's
    row filter for another verb (a merge updates rows, so it needs PATCH), None for admins."""
    given = () if plan.action == "delete" else _given(plan, options, table)
    conflict = _conflict(options, table) if plan.action == "create" else None
    merge_where = None
    if conflict is not None and options.duplicates == "merge" and guard is not None:
        merge_where = guard(table, "PATCH")
    return BoundWrite(
        table=table,
        action=plan.action,
        keys=tuple(table.column(k) for k in table.primary_key),
        returning=(),
        records=_records(plan, options, given),
        where=bind_filter(plan.filter, table) if plan.filter is not None else None,
        mode="rollback",
        options=options,
        given=given,
        conflict=conflict,
        outputs=_outputs(options, table),
        merge_where=merge_where,
    )
