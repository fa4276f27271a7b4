"""The metadata version stamp: how every process learns that services, roles, apps, users or
limits changed (and, on a counter of its own, that a session was revoked).

A change bumps a counter in one row of the metadata database (`bump()`, from model signals);
each process reads that row at most every GATEWAY_METADATA_POLL_SECONDS (`stamp.poll()`, from
the request path) and, when a counter moved, calls the listeners that the layers above
registered: the service registry re-reads services, the role and app snapshots drop
themselves. A request never reads the metadata database otherwise. While the database is
unreachable the last state keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections, transaction
from django.db.models import F

from core.models import MetadataVersion

log = logging.getLogger(__name__)

Listener = Callable[[], None]


class Stamp:
    """This process's view of the version row, and who to tell when it moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._revocations: int | None = None
        self._checked_at = 0.0
        self._listeners: list[Listener] = []
        self._revocation_listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Call `listener` whenever this process notices a metadata change (and at start)."""
        self._listeners.append(listener)

    def on_revocation(self, listener: Listener) -> None:
        """Call `listener` when the revocation counter moved (and at start)."""
        self._revocation_listeners.append(listener)

    def poll(self) -> None:
        """Read the row if the poll interval has passed; run the listeners of what moved."""
        now = time.monotonic()
        if now - self._checked_at >= settings.GATEWAY_METADATA_POLL_SECONDS:
            self._sync(now)

    def invalidate(self) -> None:
        """Read the row on the next poll and treat everything as changed (this process wrote a
        change, or a test swapped the database)."""
        self._checked_at = 0.0
        self._version = None
        self._revocations = None

    def _sync(self, now: float) -> None:
        with self._lock:
            if now - self._checked_at < settings.GATEWAY_METADATA_POLL_SECONDS:
                return  # another thread synced while this one waited
            try:
                row = MetadataVersion.objects.filter(pk=1).values_list("version", "revocations")
                version, revocations = row.first() or (0, 0)
            except DatabaseError:
                self._unreachable(now)
                return
            changed, revoked = version != self._version, revocations != self._revocations
            try:
                if changed:
                    for listener in self._listeners:
                        listener()
                if revoked:
                    for listener in self._revocation_listeners:
                        listener()
            except DatabaseError:  # a listener could not re-read: try again at the next poll
                self._unreachable(now)
                return
            self._version, self._revocations, self._checked_at = version, revocations, now

    def _unreachable(self, now: float) -> None:
        # The data path skips Django's request signals, so drop a broken metadata connection
        # here; until the database is back, keep serving what this process knows.
        close_old_connections()
        for conn in connections.all():
            conn.close_if_unusable_or_obsolete()
        if self._version is None:
            raise
        log.warning("metadata database unreachable; serving the last known metadata")
        self._checked_at = now


stamp = Stamp()


def bump() -> None:
    """Tell every process that metadata changed (model signals call this on save and delete)."""
    with transaction.atomic():
        updated = MetadataVersion.objects.filter(pk=1).update(version=F("version") + 1)
        if not updated:
            MetadataVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    transaction.on_commit(stamp.invalidate)
    stamp.invalidate()


def bump_revocations() -> None:
    """Tell every process that a session token was revoked (inside the caller's transaction)."""
    updated = MetadataVersion.objects.filter(pk=1).update(revocations=F("revocations") + 1)
    if not updated:
        MetadataVersion.objects.get_or_create(pk=1, defaults={"revocations": 1})
