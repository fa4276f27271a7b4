"""Execute stage, streamed reads: every row of a `_table` query as NDJSON or CSV, batch by batch.

NDJSON comes from a server-side cursor, CSV from `COPY ... TO STDOUT`, both in one transaction on
a pooled connection. The first batch is read before the response starts, so a bad request still
gets the error envelope. It never holds the whole result in memory and never keeps the
connection after the stream ends or is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader

from core.access import Access
from core.errors import GatewayError
from services.config import ServiceConfig
from services.db import executor
from services.db.executor import ConnectionLost
from services.plan.types import BoundNode, BoundRead, StreamFormat
from services.registry import LiveService
from services.sql.compile import Statement
from services.sql.stream import NO_STATEMENT_TIMEOUT, compile_csv, compile_ndjson

log = logging.getLogger(__name__)

CONTENT_TYPES: dict[StreamFormat, str] = {
    "ndjson": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}
BATCH_ROWS = 2_000  # rows per FETCH from the server-side cursor
CHUNK_BYTES = 64 * 1024  # CSV bytes gathered per response chunk


def may_read_all_rows(grant: Access) -> bool:
    """Whether a stream may skip the service's max_records cap: admins only; a role's
    streams are capped like its pages (its row filter applies to both)."""
    return grant.is_admin


def stream_limit(read: BoundRead, config: ServiceConfig, grant: Access) -> int | None:
    """The rows a stream may send: a given `limit` still limits; None means every row."""
    limit = read.requested_limit
    given = limit if limit is not None and limit > 0 else None
    if may_read_all_rows(grant):
        return given
    cap = config.effective_max_records
    return cap if given is None else min(given, cap)


class _TextAsBytes(Loader):
    """Text columns as the UTF-8 bytes PostgreSQL sent: no decode and re-encode per row."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def _ndjson_batches(conn: psycopg.Connection[Any], stmt: Statement) -> Iterator[bytes]:
    with conn.cursor(name="gateway_stream") as cursor:
        cursor.adapters.register_loader("text", _TextAsBytes)
        cursor.execute(stmt.query, stmt.params)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield b"\n".join([row[0] for row in rows]) + b"\n"


def _csv_batches(conn: psycopg.Connection[Any], stmt: Statement) -> Iterator[bytes]:
    conn.execute(NO_STATEMENT_TIMEOUT)  # for this transaction only: see sql/stream.py
    with conn.cursor() as cursor, cursor.copy(stmt.query, stmt.params) as copy:
        buffer = bytearray()
        for data in copy:  # one CSV line per item
            buffer += data
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
        if buffer:
            yield bytes(buffer)


def _batches(live: LiveService, fmt: StreamFormat, stmt: Statement) -> Generator[bytes]:
    # Leaving these blocks (end of rows, an error, or close() on a client disconnect) cancels
    # an unfinished COPY, closes the cursor, ends the transaction and returns the connection.
    with executor.connection(live) as conn, conn.transaction():
        if fmt == "csv":
            yield from _csv_batches(conn, stmt)
        else:
            yield from _ndjson_batches(conn, stmt)


class RowStream:
    """The response body of a stream: an iterator of byte chunks; close() releases the
    connection (StreamingHttpResponse calls it when the response is done or abandoned)."""

    def __init__(self, batches: Generator[bytes], first: bytes, content_type: str) -> None:
        self.content_type = content_type
        self._batches = batches
        self._first: bytes | None = first

    def __iter__(self) -> RowStream:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        try:
            return next(self._batches)
        except GatewayError as exc:
            # the status line is sent: the server can only cut the response short
            log.warning("stream aborted by the database: %s", exc.cause or exc.message)
            raise

    def close(self) -> None:
        self._batches.close()


def _start(live: LiveService, fmt: StreamFormat, stmt: Statement) -> RowStream:
    """Run the query and read the first batch, so a failure still gets the error envelope."""
    batches = _batches(live, fmt, stmt)
    return RowStream(batches, next(batches, b""), CONTENT_TYPES[fmt])


def open_stream(
    live: LiveService,
    read: BoundRead,
    fmt: StreamFormat,
    limit: int | None,
    row_filter: BoundNode | None = None,
) -> RowStream:
    """Start streaming `read` (its limit replaced by `limit`); raises before the first byte."""
    if fmt == "csv":
        stmt = compile_csv(read, limit, row_filter)
    else:
        stmt = compile_ndjson(read, limit, row_filter)
    try:
        return _start(live, fmt, stmt)
    except ConnectionLost as lost:  # nothing was sent yet: once more on a fresh connection
        if not lost.retryable:
            raise
    return _start(live, fmt, stmt)
