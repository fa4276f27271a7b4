"""The audit observer and its flusher (issue #6 item 3, issue #12).

After every /api/ request the observer appends one Row to an in-process buffer (GATEWAY_AUDIT
"db"), writes one JSON line to the logger `gateway.audit` ("log"), or does nothing ("off"); a
daemon thread writes the buffer to the audit store (audit/store.py: a database of its own, never
the metadata database) in batches, deletes what retention says (by age and by count, in bounded
batches), and the process's exit flushes what is left. Never a database round trip on the
request path, and never a body, header, key, token or password (a RequestContext holds none of
them).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

import orjson
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.http import HttpResponseBase

from audit.buffer import Buffer
from audit.models import AuditEvent
from audit.record import Row, as_json_ready, fields_of, row_from
from audit.retention import delete_through, purge_some, trim_cutoff
from audit.store import insert_rows
from core.context import RequestContext
from core.shutdown import at_exit

log = logging.getLogger(__name__)
stream = logging.getLogger("gateway.audit")  # "log" mode: one JSON line per event

PURGE_EVERY = 3600.0  # seconds between two retention purges by age by the flusher
TRIM_EVERY = 60.0  # seconds between two checks of GATEWAY_AUDIT_MAX_EVENTS by the flusher
RETENTION_BATCHES = 20  # delete statements (of retention.DELETE_BATCH events) per flush at most
RETRY_AFTER = (0.1, 0.3, 0.9)  # the flusher's pauses before it tries a failed write again


def _database_name(alias: str) -> str:
    return str(connections[alias].settings_dict.get("NAME"))


def _shareable(alias: str) -> bool:
    """Whether a second thread may write the database. Not an in-memory SQLite one: ":memory:"
    is private to its connection, and the test runner's shared-cache one answers "table is
    locked" at once instead of waiting, so a flusher would fail the other threads' reads."""
    connection = connections[alias]
    name = str(connection.settings_dict.get("NAME") or "")
    in_memory = name == ":memory:" or "mode=memory" in name  # as Django's sqlite3 backend tells
    return not (connection.vendor == "sqlite" and in_memory)


class Recorder:
    """One per process (`recorder` below). Settings are read when used, so overrides apply."""

    def __init__(self) -> None:
        self._reset()
        self._exit_flush_installed = False

    def _reset(self) -> None:
        self.buffer: Buffer[Row] = Buffer()
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping: threading.Event | None = None
        self._started = False  # the first buffered event decides whether a flusher runs
        self._database: str | None = None  # the database the buffered events belong to
        self._last_purge = self._last_trim = float("-inf")
        self._purging = self._trimming = False  # a purge with more to delete than one flush's
        self._trim_cutoff: datetime | None = None  # the time a trim under way deletes through

    # --- the request path ----------------------------------------------------------------

    def observe(self, context: RequestContext, response: HttpResponseBase) -> None:
        """core.context observer: record one finished /api/ request (not a CORS preflight)."""
        mode = settings.GATEWAY_AUDIT
        if mode == "off" or context.preflight:
            return
        row = row_from(context)
        if mode == "log":
            if stream.isEnabledFor(logging.INFO):
                fields = as_json_ready(fields_of(row))
                # plain format: the JSON line as the message; json format: the fields merged
                stream.info(orjson.dumps(fields).decode(), extra={"fields": fields})
            return
        waiting = self.buffer.put(row, settings.GATEWAY_AUDIT_BUFFER)
        if not self._started:
            self._start(automatic=True)
        if waiting >= settings.GATEWAY_AUDIT_BATCH:
            self._wake.set()

    # --- the flusher thread ----------------------------------------------------------------

    def _start(self, *, automatic: bool) -> None:
        with self._start_lock:
            if self._started and (automatic or self._thread is not None):
                return
            self._started = True
            alias = router.db_for_write(AuditEvent)
            self._database = _database_name(alias)
            if automatic and not _shareable(alias):
                log.info("audit: in-memory SQLite audit store; events wait for flush()")
                return
            stopping = threading.Event()
            self._last_purge = self._last_trim = float("-inf")  # purged at its first flush
            thread = threading.Thread(
                target=self._run, args=(stopping,), name="audit-flusher", daemon=True
            )
            self._thread, self._stopping = thread, stopping
            thread.start()

    def _run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            self._wake.wait(max(0.01, float(settings.GATEWAY_AUDIT_FLUSH_SECONDS)))
            self._wake.clear()
            if stopping.is_set():
                break
            self._flush(in_thread=True)

    def _flush(self, *, in_thread: bool) -> int:
        with self._flush_lock:
            written = 0
            try:
                written = self._drain(retry=in_thread)
            except Exception:  # the flusher must outlive any failure
                log.exception("audit: flush failed; the events taken are lost")
            if in_thread:
                self._purge_now_and_then()
                # keep the connection between flushes (opening one costs PostgreSQL more than
                # the write); drop it when broken or older than CONN_MAX_AGE
                for connection in connections.all(initialized_only=True):
                    connection.close_if_unusable_or_obsolete()
            dropped = self.buffer.take_dropped()
            if dropped:
                log.warning(
                    "audit: buffer full, dropped the %d oldest events (GATEWAY_AUDIT_BUFFER=%d)",
                    dropped,
                    settings.GATEWAY_AUDIT_BUFFER,
                )
            return written

    def _drain(self, *, retry: bool) -> int:
        """Write the events waiting now (not those that arrive meanwhile), batch by batch."""
        pending = len(self.buffer)
        if not pending:
            return 0
        alias = router.db_for_write(AuditEvent)
        if not self._same_database(alias):
            lost = self.buffer.clear()
            log.debug("audit: %d events belong to another database; not written", lost)
            return 0
        size = max(1, int(settings.GATEWAY_AUDIT_BATCH))
        written = 0
        while pending > 0:
            rows = self.buffer.take(min(size, pending))
            if not rows:
                break
            pending -= len(rows)
            written += self._write(rows, alias, retry=retry)
        return written

    def _same_database(self, alias: str) -> bool:
        """Whether `alias` is still the database the buffered events were recorded for (only a
        test runner swaps the audit store under a live process)."""
        return self._database is None or _database_name(alias) == self._database

    def _write(self, rows: list[Row], alias: str, *, retry: bool) -> int:
        pauses = list(RETRY_AFTER) if retry else []
        while True:
            try:
                with transaction.atomic(using=alias):  # a savepoint inside a caller's transaction
                    insert_rows(rows, alias)
                return len(rows)
            except DatabaseError:
                if pauses:  # a broken connection or a busy (locked) database: again, on a new
                    connections[alias].close()  # connection, a little later each time
                    time.sleep(pauses.pop(0))
                    continue
                log.exception("audit: could not write %d events; they are lost", len(rows))
                return 0

    def _purge_now_and_then(self) -> None:
        """Retention, off the request path: by age at most once per PURGE_EVERY, by count at
        most once per TRIM_EVERY, each at most RETENTION_BATCHES delete statements per flush (a
        purge with more to do carries on at the next flush). A failed one is tried again at
        the next flush."""
        days = int(settings.GATEWAY_AUDIT_RETENTION_DAYS)
        limit = int(settings.GATEWAY_AUDIT_MAX_EVENTS)
        now = time.monotonic()
        age_due = days > 0 and (self._purging or now - self._last_purge >= PURGE_EVERY)
        size_due = limit > 0 and (self._trimming or now - self._last_trim >= TRIM_EVERY)
        if not (age_due or size_due):
            return
        try:
            if not self._same_database(router.db_for_write(AuditEvent)):
                return
            if age_due:
                deleted, done = purge_some(days, max_batches=RETENTION_BATCHES)
                self._last_purge, self._purging = now, not done
                if deleted:
                    log.info("audit: purged %d events older than %d days", deleted, days)
            if size_due:
                if self._trim_cutoff is None:
                    keep = limit - limit // 20  # 95 %: the store is counted once per 5 % written
                    self._trim_cutoff = trim_cutoff(limit, keep)
                deleted, done = 0, True
                if self._trim_cutoff is not None:  # over the limit: delete, or carry on deleting
                    deleted, done = delete_through(self._trim_cutoff, max_batches=RETENTION_BATCHES)
                self._last_trim, self._trimming = now, not done
                if done:
                    self._trim_cutoff = None
                if deleted:
                    log.info(
                        "audit: deleted the %d oldest events (GATEWAY_AUDIT_MAX_EVENTS=%d)",
                        deleted,
                        limit,
                    )
        except Exception:
            log.exception("audit: retention purge failed; trying again at the next flush")

    # --- control (process exit, tests) ---------------------------------------------------

    def flush(self) -> int:
        """Write every waiting event now, in the calling thread; returns how many were written.
        Waits for a flush the thread has under way, so everything recorded before is stored."""
        return self._flush(in_thread=False)

    def start_flusher(self) -> None:
        """Start the flusher thread now, even on an in-memory SQLite database (tests that make
        no concurrent writes)."""
        self._start(automatic=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the flusher thread; waiting events stay, and the next event starts a new one."""
        with self._start_lock:
            thread, stopping = self._thread, self._stopping
            self._thread = self._stopping = None
            self._started = False
        if stopping is not None:
            stopping.set()
            self._wake.set()
        if thread is not None:
            thread.join(timeout)
        self._wake.clear()

    def discard(self) -> int:
        """Forget every waiting event (tests); returns how many there were."""
        return self.buffer.clear()

    def install_exit_flush(self) -> None:
        """Flush what is still waiting when the process exits (AuditConfig.ready); through
        core.shutdown, because granian's workers never run atexit handlers."""
        if not self._exit_flush_installed:
            self._exit_flush_installed = True
            at_exit(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        if len(self.buffer):
            self.flush()
            connections.close_all()

    def _after_fork(self) -> None:
        """A forked worker starts empty: its parent still owns (and flushes) what it buffered."""
        self._reset()


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._after_fork)
