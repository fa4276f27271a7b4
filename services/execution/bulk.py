"""Execute stage, bulk creates: a batch of records in chunks inside one transaction (spec §3.8).

The records come as spans of consecutive records with the same keys
(services/plan/bind_batch.py). A span of COPY_MIN_ROWS records or more is written in chunks
of up to CHUNK_ROWS: each chunk is bound column by column, its rows are COPYed as text into a
staging table and inserted with one INSERT ... SELECT ... RETURNING, under a savepoint. While
PostgreSQL runs that INSERT (sent in pipeline mode), the next chunk is bound and its COPY text
written, so the Python work of a chunk overlaps the database work of the one before. Shorter
spans, and records that are not objects, go record by record through the caller's `write_one`
(the per-record path).

A chunk that fails is rolled back to its savepoint and bisected: each half is tried the same
way, down to LEAF_ROWS records, which go record by record through `write_one`, so the failing
record is found, and reported, exactly as the per-record path reports it. In the default mode
and with `rollback`, the batch ends at the first failing record (the half after it is never
tried); with `continue`, every half is tried, so every good record is written and every bad
one reported at its index. A record that fails to bind fails at its place in the same way.
This module never shapes the response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Column
from services.db.pgerrors import classify
from services.plan.bind_batch import BoundCreates, BoundOneByOne, ColumnRun, CreateBatch, Span
from services.plan.types import BoundNode, BoundRecord, BoundWrite
from services.sql.bulk import (
    clear_staging,
    copy_into_staging,
    copy_text,
    create_staging,
    insert_from_staging,
)

CHUNK_ROWS = 10_000  # records per COPY and INSERT (a failed chunk is bisected)
COPY_MIN_ROWS = 16  # shorter runs of same-column records go record by record
LEAF_ROWS = 8  # a failed part this short goes record by record
_PIPELINE = psycopg.Pipeline.is_supported()  # libpq 14+ (without it: no overlap, same results)

Result = str | GatewayError  # a record's output JSON text, or why it failed
WriteOne = Callable[[BoundRecord], str]  # the per-record path: output text or a GatewayError


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records [start, stop) of a batch: COPYed (bound when its turn comes), or, with no
    columns, written record by record."""

    start: int
    stop: int
    columns: tuple[Column, ...] | None  # the columns its span's keys name; None: one by one


def plan_chunks(spans: Iterable[Span]) -> list[Chunk]:
    """Chunks for a batch's spans: long spans are COPYed, the rest go one by one."""
    chunks: list[Chunk] = []
    for span in spans:
        if span.stop - span.start >= COPY_MIN_ROWS and span.columns:
            chunks += [
                Chunk(s, min(s + CHUNK_ROWS, span.stop), span.columns)
                for s in range(span.start, span.stop, CHUNK_ROWS)
            ]
        elif chunks and chunks[-1].columns is None and chunks[-1].stop == span.start:
            chunks[-1] = Chunk(chunks[-1].start, span.stop, None)
        else:
            chunks.append(Chunk(span.start, span.stop, None))
    return chunks


@dataclass(frozen=True, slots=True)
class _Part:
    """Records [start, stop) of a chunk: COPYed from `run` (with `text`, its COPY rows when
    prepared ahead), or record by record (`run` None)."""

    start: int
    stop: int
    run: ColumnRun | None = None
    text: list[str] | None = None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A chunk, bound: its parts in order, and `cut`: the first record that failed to bind
    when the batch stops there (not `continue`), or None."""

    parts: list[_Part]
    cut: int | None


def _fatal(error: GatewayError) -> bool:
    """Failures that end the whole request rather than one record (connection lost, ...)."""
    return error.status >= 500 and error.status != 504


def _invalid(error: Exception) -> GatewayError:
    return error if isinstance(error, GatewayError) else BadRequest(str(error))


class _ChunkFailed(Exception):
    """A COPYed part failed (rolled back to its savepoint): split it."""


class _OutsideFilter(Exception):
    """A part wrote a row outside the role's row filter: undo it, then split it."""


class _Batch:
    """One bulk create on one connection; `results` grows record by record, in order."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        write: BoundWrite,
        source: CreateBatch,
        write_one: WriteOne,
        check: BoundNode | None,
    ):
        self.conn = conn
        self.write = write
        self.source = source
        self.write_one = write_one
        self.check = check  # a role's row filter every created row must satisfy
        self.keep_going = write.mode == "continue"
        self.results: list[Result] = []
        self.errors: dict[int, Exception] = {}  # records that failed to bind, by index
        self.staged = False  # the staging table exists
        self._inserts: dict[tuple[Column, ...], tuple[sql.Composed, list[Any]]] = {}
        self._upcoming: Chunk | None = None  # the chunk after the one being written
        self._ahead: _Prepared | None = None  # ... bound and formatted while the server works

    def stage(self, chunks: list[Chunk]) -> None:
        """Create the staging table for every column a COPY chunk may write (if any)."""
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

    def write_all(self, chunks: list[Chunk]) -> bool:
        """Write the chunks in order; True when a record failed (the batch stops at the first
        failure unless it goes on)."""
        failed = False
        ahead: _Prepared | None = None
        for index, chunk in enumerate(chunks):
            self._upcoming = chunks[index + 1] if index + 1 < len(chunks) else None
            self._ahead = None
            failed = self._write(ahead or self._prepare(chunk, stream=True)) or failed
            if failed and not self.keep_going:
                return True
            ahead = self._ahead
        return failed

    def _prepare(self, chunk: Chunk, *, stream: bool = False) -> _Prepared:
        """Bind a chunk and cut it into parts; with `stream`, COPY text is made while it is
        written, else now (the chunk is prepared ahead, while the server works)."""
        if chunk.columns is None or not self.staged:
            return _Prepared([_Part(chunk.start, chunk.stop)], None)
        binding = self.source.bind(chunk.start, chunk.stop)
        self.errors.update(binding.errors)
        cut = None if self.keep_going or not binding.errors else min(binding.errors)
        end = chunk.stop if cut is None else cut
        parts: list[_Part] = []
        done = chunk.start
        for run in binding.runs:
            if run.start >= end:
                break
            start, stop = run.start, min(run.stop, end)
            if start > done:  # records that failed to bind: each reports its error
                parts.append(_Part(done, start))
            if stop - start < COPY_MIN_ROWS:
                parts.append(_Part(start, stop))
            else:
                text = None if stream else list(copy_text(run, start, stop, self._skip))
                parts.append(_Part(start, stop, run, text))
            done = stop
        if done < end:
            parts.append(_Part(done, end))
        return _Prepared(parts, cut)

    @property
    def _skip(self) -> dict[int, Exception]:
        return self.errors if self.keep_going else {}

    def _write(self, chunk: _Prepared) -> bool:
        failed = False
        for part in chunk.parts:
            if part.run is None:
                failed = self._one_by_one(part.start, part.stop) or failed
            else:
                failed = self._copied(part.run, part.start, part.stop, part.text) or failed
            if failed and not self.keep_going:
                return True
        if chunk.cut is not None:  # the first record that failed to bind ends the batch
            self.results.append(_invalid(self.errors[chunk.cut]))
            return True
        return failed

    def _copied(self, run: ColumnRun, start: int, stop: int, text: list[str] | None = None) -> bool:
        """Records [start, stop) of a run: COPYed at once, or, when that fails, in halves."""
        if stop - start <= LEAF_ROWS:
            return self._one_by_one(start, stop)
        try:
            outputs = self._copy(run, start, stop, text)
        except _ChunkFailed:
            middle = (start + stop) // 2
            failed = self._copied(run, start, middle)
            if failed and not self.keep_going:
                return True
            return self._copied(run, middle, stop) or failed
        self._place(start, stop, outputs)
        return False

    def _copy(self, run: ColumnRun, start: int, stop: int, text: list[str] | None) -> list[str]:
        """COPY and insert the records of [start, stop) that bound, under a savepoint; their
        outputs in order, or _ChunkFailed (nothing of it written)."""
        rows = text or copy_text(run, start, stop, self._skip)
        try:
            with self.conn.transaction():  # a savepoint: a failed part leaves no trace
                self.conn.execute(clear_staging())
                with (
                    self.conn.cursor() as cursor,
                    cursor.copy(copy_into_staging(run.columns)) as copy,
                ):
                    for piece in rows:
                        copy.write(piece)
                query, params = self._insert(run.columns)
                with self.conn.pipeline() if _PIPELINE else nullcontext():
                    inserted = self.conn.execute(query, params)  # sent, not awaited:
                    self._work_ahead()  # the next chunk is bound while the server inserts
                found = inserted.fetchall()
                if self.check is not None and not all(row[1] is True for row in found):
                    raise _OutsideFilter()
        except _OutsideFilter:
            raise _ChunkFailed() from None  # the per-record path names the record
        except psycopg.Error as exc:
            error = classify(exc)
            if _fatal(error):
                raise error from None
            raise _ChunkFailed() from None
        return [row[0] for row in found]

    def _work_ahead(self) -> None:
        """Bind and format the next chunk (once), while the server runs this one's INSERT."""
        if self._upcoming is not None and self._ahead is None:
            self._ahead = self._prepare(self._upcoming)

    def _insert(self, columns: tuple[Column, ...]) -> tuple[sql.Composed, list[Any]]:
        found = self._inserts.get(columns)
        if found is None:
            params: list[Any] = []
            query = insert_from_staging(
                self.write.table, columns, self.write.returning, self.check, params
            )
            found = self._inserts[columns] = (query, params)
        return found

    def _place(self, start: int, stop: int, outputs: list[str]) -> None:
        """Results for [start, stop): the outputs of the records written, in order, and the
        bind errors of the ones left out."""
        if len(outputs) == stop - start:
            self.results += outputs
            return
        written = iter(outputs)
        self.results += [
            _invalid(self.errors[i]) if i in self.errors else next(written)
            for i in range(start, stop)
        ]

    def _one_by_one(self, start: int, stop: int) -> bool:
        """Record by record, as the per-record path does; up to the first failure unless the
        batch goes on (`continue`). True when a record failed."""
        failed = False
        for index in range(start, stop):
            record = self.write.records[index]
            if isinstance(record.error, GatewayError):  # what write_one raises, without a trip
                self.results.append(record.error)
                if not self.keep_going:
                    return True
                failed = True
                continue
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
                if not self.keep_going:
                    return True
                failed = True
                continue
            self.results.append(output)
        return failed  # a part that failed only as a whole (e.g. a timeout) is now written


def _source(write: BoundWrite) -> CreateBatch:
    records = write.records
    if isinstance(records, BoundCreates):
        return records
    return BoundOneByOne(write.table, records)


def insert_batch(
    conn: psycopg.Connection[Any],
    write: BoundWrite,
    write_one: WriteOne,
    check: BoundNode | None = None,
) -> list[Result]:
    """Create write.records in one transaction, in any batch mode.

    The per-record results, as the per-record path would give them: with `continue`, one
    for every record; otherwise up to and including the first failure. Nothing is kept when
    mode is "rollback" or the first record failed (and the batch did not go on).
    """
    source = _source(write)
    chunks = plan_chunks(source.spans)
    batch = _Batch(conn, write, source, write_one, check)
    try:
        with conn.transaction():
            batch.stage(chunks)
            failed = batch.write_all(chunks)
            if failed and (
                write.mode == "rollback" or (not batch.keep_going and len(batch.results) == 1)
            ):
                raise psycopg.Rollback()
    except psycopg.Error as exc:
        raise classify(exc) from None
    return batch.results
