"""Execute stage: run compiled statements on the service's pool and shape the wire bytes.

Reads are one statement in autocommit (PostgreSQL builds the JSON). Writes follow the batch
semantics of spec §3.8: stop at the first failure keeping what was written (default),
`continue`, or `rollback` (all or nothing); a single record is one autocommit statement, and a
batch create (in any mode) goes in chunks through services/execution/bulk.py. A write with
WriteOptions (the PostgREST dialect's) runs in option_writes.py: one transaction, its options.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import psycopg

from core.context import note_rows
from core.errors import BadRequest, BatchError, Forbidden, GatewayError, NotFound
from core.verbs import ALL_VERBS
from services.catalog.describe import extras_for, table_description
from services.catalog.schema_cache import Column
from services.db import executor
from services.db.pgerrors import classify
from services.execution.bulk import insert_batch
from services.execution.nested import write_with_related
from services.execution.option_writes import run_with_options
from services.execution.write_related import with_keys, with_related
from services.plan.bind_batch import BoundCreates
from services.plan.types import BoundNode, BoundRead, BoundRecord, BoundWrite
from services.plan.values import dumps_exact
from services.registry import LiveService
from services.sql.compile import Statement, combine, compile_count
from services.sql.writes import (
    compile_delete,
    compile_insert,
    compile_key_select,
    compile_update,
    compile_upsert,
)

_BATCH_VERB = {"create": "created", "update": "updated", "delete": "deleted"}


def _one(conn: psycopg.Connection[Any], stmt: Statement) -> Any:
    row = executor.run(conn, stmt.query, stmt.params).fetchone()
    return None if row is None else row[0]


def _wrap(items: bytes, meta: dict[str, Any] | None = None) -> bytes:
    if meta:
        return b'{"resource":' + items + b',"meta":' + orjson.dumps(meta) + b"}"
    return b'{"resource":' + items + b"}"


def _as_list(rows_json: bytes, keys: tuple[str, ...]) -> bytes:
    """`as_list=true`: identifier values only; composite keys as "(v1,v2)" (spec §3.2)."""
    rows = orjson.loads(rows_json)
    if len(keys) == 1:
        return orjson.dumps([r.get(keys[0]) for r in rows])
    return orjson.dumps(["(" + ",".join(str(r.get(k)) for k in keys) + ")" for r in rows])


def run_read(
    live: LiveService,
    read: BoundRead,
    stmt: Statement,
    row_filter: BoundNode | None = None,
    *,
    verbs: int = ALL_VERBS,
) -> bytes:
    """GET /_table/{t}[/{id}]: the response body bytes. `stmt` is the compiled key lookup or
    page (services/sql/plan.py); a truncated page's count is compiled here, when needed.

    `verbs` is the caller's grant, shown as `access` in `meta.schema` (include_schema).
    """
    if read.key_values is not None:
        return executor.read(live, lambda conn: _key_read(conn, read, stmt))

    def page(conn: psycopg.Connection[Any]) -> tuple[str, int, bool]:
        row = executor.run(conn, stmt.query, stmt.params).fetchone()
        rows_json, count, more = row if row else ("[]", 0, False)
        if more:
            where = combine(read.where, row_filter)
            count = _one(conn, compile_count(read.table, where, read.group, read.having))
        return rows_json, count, more

    rows_json, count, more = executor.read(live, page)
    if read.count_only:
        return str(count).encode()
    meta: dict[str, Any] = {}
    if read.count or more:
        meta["count"] = count
        if count - read.offset > read.limit:
            meta["next"] = read.offset + read.limit
    if read.include_schema:
        extras = extras_for(live.extras(live.schema()), read.table)
        meta["schema"] = table_description(read.table, extras, verbs, live.config.id)
    body = rows_json.encode()
    if read.as_list:
        body = _as_list(body, tuple(k.name for k in read.keys))
    return _wrap(body, meta)


def _key_read(conn: psycopg.Connection[Any], read: BoundRead, stmt: Statement) -> bytes:
    found: list[str | None] = _one(conn, stmt) or []
    if read.single:
        if found[0] is None:
            raise NotFound(f"Record with identifier '{read.key_labels[0]}' not found.")
        return found[0].encode()
    missing = [i for i, row in enumerate(found) if row is None]
    if missing:
        stop = len(found) if read.continue_on_error else missing[0] + 1
        resource: list[Any] = []
        for i, row in enumerate(found[:stop]):
            if row is None:
                label = read.key_labels[i]
                resource.append(NotFound(f"Record with identifier '{label}' not found.").as_dict())
            else:
                resource.append(orjson.loads(row))
        raise BatchError(
            "Batch Error: Not all requested records could be retrieved.",
            context={"error": [i for i in missing if i < stop], "resource": resource},
        )
    body = b"[" + b",".join(r.encode() for r in found if r is not None) + b"]"
    if read.as_list:
        body = _as_list(body, tuple(k.name for k in read.keys))
    return _wrap(body)


# --- writes ----------------------------------------------------------------------------------


DENIED = "Denied access to some of the requested fields."


def _record_statement(
    write: BoundWrite, record: BoundRecord, row_filter: BoundNode | None
) -> Statement:
    """The statement for one record. A role's row filter limits which rows an update or
    delete may touch, and is checked against every row a create or update writes."""
    table, returning = write.table, write.returning
    if write.action == "create":
        return compile_insert(table, record.values, returning, check=row_filter)
    if write.action == "update":
        if write.upsert and record.key is not None:
            return compile_upsert(
                table,
                write.keys,
                record.key,
                record.values,
                returning,
                where=row_filter,
                check=row_filter,
            )
        return compile_update(
            table,
            record.values,
            returning,
            keys=write.keys,
            key=record.key,
            where=row_filter,
            check=row_filter,
        )
    return compile_delete(table, returning, keys=write.keys, key=record.key, where=row_filter)


def _apply(
    conn: psycopg.Connection[Any],
    write: BoundWrite,
    record: BoundRecord,
    row_filter: BoundNode | None,
) -> str:
    """Write one record; its JSON output text, or raise the GatewayError for this record.

    A record that fails the role's row filter raises 403 after its statement ran: callers run
    this inside a transaction or savepoint whenever a row filter is given, so it is undone.
    """
    if record.error is not None:
        raise record.error
    if record.nested:
        return _apply_nested(conn, write, record, row_filter)
    if write.upsert and record.key is not None and not upsert_in_one(write, record):
        return _upsert_stepwise(conn, write, record, row_filter)
    stmt = _record_statement(write, record, row_filter)
    try:
        row = executor.run(conn, stmt.query, stmt.params).fetchone()
    except psycopg.Error as exc:
        raise classify(exc) from None
    if row is None or row[0] is None:
        raise NotFound(f"Record with identifier '{record.label}' not found.")
    if row_filter is not None and write.action != "delete" and row[1] is not True:
        raise Forbidden(DENIED, context={"record": record.label} if record.label else None)
    return str(row[0])


def _apply_nested(
    conn: psycopg.Connection[Any],
    write: BoundWrite,
    record: BoundRecord,
    row_filter: BoundNode | None,
) -> str:
    """A record with nested related records (spec §3.12), all in the caller's transaction."""
    key_names = {k.name for k in write.keys}

    def own(values: dict[str, Any], columns: tuple[Column, ...]) -> str:
        plain = replace(record, values=values, nested=())
        if write.action == "update" and not values.keys() - key_names:
            # nothing of its own changes: it must still exist, and be the caller's to write
            stmt = compile_key_select(
                write.table, write.keys, record.key or (), columns, row_filter
            )
            try:
                row = executor.run(conn, stmt.query, stmt.params).fetchone()
            except psycopg.Error as exc:
                raise classify(exc) from None
            if row is None:
                raise NotFound(f"Record with identifier '{record.label}' not found.")
            return str(row[0])
        return _apply(conn, replace(write, returning=columns), plain, row_filter)

    text, _row = write_with_related(
        conn,
        write.table,
        record.values,
        record.nested,
        write.returning,
        own,
        allow_delete=write.allow_related_delete,
    )
    return project(text, write.returning)


def project(text: str, columns: tuple[Column, ...]) -> str:
    """A row's JSON text cut down to `columns` (numbers keep PostgreSQL's digits)."""
    row = json.loads(text, parse_float=Decimal)
    if list(row) == [c.name for c in columns]:
        return text
    return dumps_exact({c.name: row.get(c.name) for c in columns})


def upsert_in_one(write: BoundWrite, record: BoundRecord) -> bool:
    """Whether INSERT ... ON CONFLICT DO UPDATE can upsert this record: the key is the primary
    key (or a unique column) and the record gives every required column. PostgreSQL checks
    NOT NULL before it looks for the conflict, so a partial record must update first."""
    names = {k.name for k in write.keys}
    table = write.table
    unique = names == set(table.primary_key) or (len(write.keys) == 1 and write.keys[0].is_unique)
    given = names | record.values.keys()
    return unique and all(c.name in given for c in table.columns if c.required)


def _upsert_stepwise(
    conn: psycopg.Connection[Any],
    write: BoundWrite,
    record: BoundRecord,
    row_filter: BoundNode | None,
) -> str:
    """Upsert (spec §9.4) as UPDATE, then INSERT when no row has the key, in one savepoint."""
    table = write.table
    key_values = dict(zip((k.name for k in write.keys), record.key or (), strict=True))
    with conn.transaction():
        update = BoundRecord(
            {k: v for k, v in record.values.items() if k not in key_values},
            key=record.key,
            label=record.label,
        )
        if update.values:
            try:
                return _apply(conn, replace(write, upsert=False), update, row_filter)
            except NotFound:
                pass
        row = key_values | record.values
        for column in table.columns:
            if column.required and column.name not in row:
                raise BadRequest(f"Required field '{column.name}' can not be NULL.")
        create = BoundRecord(row, label=record.label)
        return _apply(conn, replace(write, action="create", upsert=False), create, row_filter)


def _single(live: LiveService, write: BoundWrite, row_filter: BoundNode | None) -> str:
    """One record in its own statement: autocommit, or a transaction when a check may undo it."""
    with executor.connection(live, write=True) as conn:
        if row_filter is None and not write.records[0].nested:
            return _apply(conn, write, write.records[0], None)
        with conn.transaction():
            return _apply(conn, write, write.records[0], row_filter)


def run_write(
    live: LiveService, write: BoundWrite, row_filter: BoundNode | None = None
) -> bytes | list[str]:
    """POST/PUT/PATCH/DELETE on /_table/{t}[/{id}]: the response body bytes; with `related`,
    the written records are read back with their related records (spec §3.6). A write with
    WriteOptions answers each changed row's JSON text (services/execution/option_writes.py)."""
    if write.options is not None:
        return run_with_options(live, write, row_filter)
    if write.related and write.action != "delete" and not write.as_list:
        wide = replace(write, returning=with_keys(write.table, write.returning, write.keys))
        body = _run_write(live, wide, row_filter)
        return with_related(live, write, body, row_filter)
    return _run_write(live, write, row_filter)


def _run_write(live: LiveService, write: BoundWrite, row_filter: BoundNode | None) -> bytes:
    if write.where is not None or write.force:
        return _filtered_write(live, write, row_filter)
    if write.single:
        note_rows(1)
        return _single(live, write, row_filter).encode()
    if len(write.records) == 1:
        try:
            out = _single(live, write, row_filter)
        except GatewayError as exc:
            if exc.status >= 500:
                raise
            raise _batch_error(write, [exc], []) from None
        return _finish(write, [out])
    return _batch(live, write, row_filter)


def _filtered_write(live: LiveService, write: BoundWrite, row_filter: BoundNode | None) -> bytes:
    """By filter (or force): one statement over every matching row the role may see; an
    update that would move any of them out of the role's filter is undone and refused."""
    where = combine(write.where, row_filter)
    checked = row_filter is not None and write.action == "update"
    if write.action == "update":
        stmt = compile_update(
            write.table,
            write.records[0].values,
            write.returning,
            where=where,
            check=row_filter if checked else None,
        )
    else:
        stmt = compile_delete(write.table, write.returning, where=where)
    with executor.connection(live, write=True) as conn, conn.transaction():
        row = conn.execute(stmt.query, stmt.params).fetchone()
        rows = (row[0] if row else None) or "[]"
        if checked and row is not None and row[1] is not True:
            raise Forbidden(DENIED)
    if write.force and write.action == "delete":
        return b'{"success":true}'
    body = rows.encode()
    if write.as_list:
        body = _as_list(body, tuple(k.name for k in write.keys))
    return _wrap(body)


def _batch(live: LiveService, write: BoundWrite, row_filter: BoundNode | None) -> bytes:
    nested = not isinstance(write.records, BoundCreates) and any(r.nested for r in write.records)
    if write.action == "create" and not nested:  # every batch mode: services/execution/bulk.py
        with executor.connection(live, write=True) as conn:
            created = insert_batch(
                conn, write, lambda r: _apply(conn, write, r, row_filter), check=row_filter
            )
        return _batch_outcome(write, created)
    results: list[str | GatewayError] = []
    with executor.connection(live, write=True) as conn, conn.transaction():
        for index, record in enumerate(write.records):
            try:
                if write.mode == "rollback" or (index == 0 and write.mode == "stop"):
                    out = _apply(conn, write, record, row_filter)
                else:
                    with conn.transaction():  # a savepoint keeps earlier records
                        out = _apply(conn, write, record, row_filter)
            except GatewayError as exc:
                if exc.status >= 500 and exc.status != 504:
                    raise
                results.append(exc)
                if write.mode == "rollback" or (write.mode == "stop" and index == 0):
                    raise psycopg.Rollback() from None
                if write.mode == "stop":
                    break
                continue
            results.append(out)
    return _batch_outcome(write, results)


def _batch_outcome(write: BoundWrite, results: list[str | GatewayError]) -> bytes:
    """The response for per-record results, or the batch error naming what was written."""
    errors = [i for i, r in enumerate(results) if isinstance(r, GatewayError)]
    if not errors:
        return _finish(write, [r for r in results if isinstance(r, str)])
    rolled_back = write.mode == "rollback" or (write.mode == "stop" and errors[0] == 0)
    written = [] if rolled_back else [i for i, r in enumerate(results) if isinstance(r, str)]
    raise _batch_error(write, results, written, rolled_back=write.mode == "rollback")


def _batch_error(
    write: BoundWrite,
    results: list[Any],
    written: list[int],
    *,
    rolled_back: bool = False,
) -> BatchError:
    message = f"Batch Error: Not all requested records could be {_BATCH_VERB[write.action]}."
    if rolled_back:
        message += " All changes rolled back."
    resource = [r.as_dict() if isinstance(r, GatewayError) else orjson.loads(r) for r in results]
    return BatchError(
        message,
        context={
            "error": [i for i, r in enumerate(results) if isinstance(r, GatewayError)],
            "resource": resource,
            "written": written,
        },
    )


def _finish(write: BoundWrite, outputs: list[str]) -> bytes:
    note_rows(len(outputs))
    body = b"[" + b",".join(o.encode() for o in outputs) + b"]"
    if write.as_list:
        body = _as_list(body, tuple(k.name for k in write.keys))
    return _wrap(body)
