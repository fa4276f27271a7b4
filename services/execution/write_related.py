"""`related=` on writes (spec §3.6): the written records read back with their related records.

The write runs with its key columns added to what it returns; the records it wrote are then
read by key, as `GET ?ids=...&related=...` would read them (the caller's row filters apply to
the record and to each related table), and answered in the write's shape.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg

from services.catalog.schema_cache import Column, Table
from services.db import executor
from services.plan.types import BoundNode, BoundRead, BoundWrite
from services.registry import LiveService
from services.sql.compile import compile_key_lookup


def with_keys(
    table: Table, columns: tuple[Column, ...], keys: tuple[Column, ...]
) -> tuple[Column, ...]:
    """`columns` and `keys`, in table order."""
    wanted = {c.name for c in columns} | {k.name for k in keys}
    return tuple(c for c in table.columns if c.name in wanted)


def with_related(
    live: LiveService, write: BoundWrite, body: bytes, row_filter: BoundNode | None
) -> bytes:
    """The answer `body` of `write` (run with its keys returned), each record replaced by
    the record read back with `write.related`."""
    parsed = orjson.loads(body)
    rows: list[dict[str, Any]] = [parsed] if write.single else parsed.get("resource", [])
    if not rows:
        return body
    table = write.table
    needed = tuple(table.column(f) for r in write.related for f in r.relation.fields)
    read = BoundRead(
        table=table,
        columns=with_keys(table, write.returning, needed),
        where=None,
        order=(),
        limit=len(rows),
        offset=0,
        count=False,
        probe_more=False,
        count_only=False,
        related=write.related,
        keys=write.keys,
        key_values=tuple(tuple(row.get(k.name) for k in write.keys) for row in rows),
    )
    stmt = compile_key_lookup(read, row_filter)

    def lookup(conn: psycopg.Connection[Any]) -> list[str | None]:
        row = executor.run(conn, stmt.query, stmt.params).fetchone()
        return list(row[0]) if row and row[0] else []

    found = executor.read(live, lookup)
    # a row the caller can no longer see (or one gone meanwhile) keeps the write's own answer
    texts = [
        text if text is not None else orjson.dumps(row).decode()
        for text, row in zip(found, rows, strict=True)
    ]
    if write.single:
        return texts[0].encode()
    return b'{"resource":[' + ",".join(texts).encode() + b"]}"
