"""Execute stage, bulk creates: a batch of records in chunks inside one transaction (spec §3.8).

A run of consecutive records that give the same columns is COPYed into a staging table and
inserted with one INSERT ... SELECT ... RETURNING per chunk, under a savepoint; short runs go
record by record. A failed chunk is rolled back and replayed record by record through the
caller's `write_one`, which finds the failing record and reports it exactly as the per-record
path does. It never shapes the response and never runs `continue` batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Column, Table
from services.db.pgerrors import classify
from services.plan.types import BoundNode, BoundRecord, BoundWrite
from services.sql.bulk import (
    clear_staging,
    copy_into_staging,
    create_staging,
    insert_from_staging,
)

CHUNK_ROWS = 2_000  # records per statement (and at most this many replayed after a failure)
COPY_MIN_ROWS = 16  # shorter runs of same-column records go record by record

Result = str | GatewayError  # a record's output JSON text, or why it failed
WriteOne = Callable[[BoundRecord], str]  # the per-record path: output text or a GatewayError


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records [start, stop) of a batch, written under one savepoint."""

    start: int
    stop: int
    columns: tuple[Column, ...] | None  # COPYed with these columns; None: record by record


def plan_chunks(table: Table, records: Sequence[BoundRecord]) -> list[Chunk]:
    """Split valid records into chunks: long same-column runs are COPYed, the rest go one by one."""
    chunks: list[Chunk] = []
    start = 0
    while start < len(records):
        names = records[start].values.keys()
        stop = start + 1
        while stop < len(records) and records[stop].values.keys() == names:
            stop += 1
        if stop - start >= COPY_MIN_ROWS:
            columns = tuple(c for c in table.columns if c.name in names)
            chunks += [
                Chunk(s, min(s + CHUNK_ROWS, stop), columns) for s in range(start, stop, CHUNK_ROWS)
            ]
        elif chunks and chunks[-1].columns is None and stop - chunks[-1].start <= CHUNK_ROWS:
            chunks[-1] = Chunk(chunks[-1].start, stop, None)
        else:
            chunks.append(Chunk(start, stop, None))
        start = stop
    return chunks


def _fatal(error: GatewayError) -> bool:
    """Failures that end the whole request rather than one record (connection lost, ...)."""
    return error.status >= 500 and error.status != 504


class _Batch:
    """One bulk create on one connection; `results` grows record by record, in order."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        write: BoundWrite,
        write_one: WriteOne,
        check: BoundNode | None = None,
    ):
        self.conn = conn
        self.write = write
        self.write_one = write_one
        self.check = check  # a role's row filter every created row must satisfy
        self.results: list[Result] = []
        self.staged = False  # the staging table exists

    def stage(self, chunks: list[Chunk]) -> None:
        """Create the staging table for every column a COPY chunk writes (if any does)."""
        wanted = {c for chunk in chunks for c in chunk.columns or ()}
        if not wanted:
            return
        columns = tuple(c for c in self.write.table.columns if c in wanted)
        try:
            with self.conn.transaction():
                # no values, but the parameters list: names are written for one (sql/fragments)
                self.conn.execute(create_staging(self.write.table, columns), [])
            self.staged = True
        except psycopg.Error:
            # e.g. no TEMP privilege, or a read-only standby: then record by record, where
            # any real problem (the insert itself refused) is reported as the per-record path does
            self.staged = False

    def run(self, chunk: Chunk) -> bool:
        """Write one chunk; True when a record failed (that ends the batch)."""
        records = self.write.records[chunk.start : chunk.stop]
        if chunk.columns is None or not self.staged:
            return self._one_by_one(records)
        try:
            with self.conn.transaction():  # a savepoint: a failed chunk leaves no trace
                outputs = self._copy(records, chunk.columns)
        except _OutsideFilter:
            return self._one_by_one(records)  # the per-record path names the record
        except psycopg.Error as exc:
            error = classify(exc)
            if _fatal(error):
                raise error from None
            return self._one_by_one(records)  # find the failing record
        self.results += outputs
        return False

    def _copy(self, records: Sequence[BoundRecord], columns: tuple[Column, ...]) -> list[str]:
        names = [c.name for c in columns]
        self.conn.execute(clear_staging())
        with self.conn.cursor() as cursor, cursor.copy(copy_into_staging(columns)) as copy:
            for n, record in enumerate(records):
                values = record.values
                copy.write_row([n, *[values[name] for name in names]])
        params: list[Any] = []
        query = insert_from_staging(
            self.write.table, columns, self.write.returning, self.check, params
        )
        rows = self.conn.execute(query, params).fetchall()
        if self.check is not None and not all(row[1] is True for row in rows):
            raise _OutsideFilter()
        return [str(row[0]) for row in rows]

    def _one_by_one(self, records: Sequence[BoundRecord]) -> bool:
        """Record by record, as the per-record path does, up to the first failure."""
        for record in records:
            try:
                if self.write.mode == "rollback":  # a failure rolls everything back anyway
                    output = self.write_one(record)
                else:
                    with self.conn.transaction():  # a savepoint keeps the earlier records
                        output = self.write_one(record)
            except GatewayError as exc:
                if _fatal(exc):
                    raise
                self.results.append(exc)
                return True
            self.results.append(output)
        return False  # a chunk that failed only as a whole (e.g. a timeout) is now written


class _OutsideFilter(Exception):
    """A chunk wrote a row outside the role's row filter: undo it, then go record by record."""


def _invalid(record: BoundRecord) -> GatewayError:
    error = record.error
    return error if isinstance(error, GatewayError) else BadRequest(str(error))


def insert_batch(
    conn: psycopg.Connection[Any],
    write: BoundWrite,
    write_one: WriteOne,
    check: BoundNode | None = None,
) -> list[Result]:
    """Create write.records in one transaction (mode "stop" or "rollback").

    The per-record results up to and including the first failure, as the per-record path
    would give them. Nothing is kept when mode is "rollback" or the first record failed.
    """
    records = write.records
    valid = next((i for i, r in enumerate(records) if r.error is not None), len(records))
    chunks = plan_chunks(write.table, records[:valid])
    batch = _Batch(conn, write, write_one, check)
    try:
        with conn.transaction():
            batch.stage(chunks)
            failed = any(batch.run(chunk) for chunk in chunks)
            if not failed and valid < len(records):  # found invalid while binding
                batch.results.append(_invalid(records[valid]))
                failed = True
            if failed and (write.mode == "rollback" or len(batch.results) == 1):
                raise psycopg.Rollback()
    except psycopg.Error as exc:
        raise classify(exc) from None
    return batch.results
