"""Revoked session tokens: rows in the metadata DB (they survive restarts), mirrored in every
process's memory so that checking a token costs a set lookup, not a query.

A revocation is applied in this process at once and counted in MetadataVersion.revocations;
every other process notices the counter within GATEWAY_METADATA_POLL_SECONDS (the registry's
poll) and loads the revocations it has not seen.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from django.db import transaction

from core.metadata import bump_revocations
from rbac.models import RevokedToken

# rows created this long before the last load are read again: a revocation committed late
# (its transaction began before the load) is still picked up
_OVERLAP = timedelta(seconds=30)


class _Revoked:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jtis: dict[str, float] = {}  # jti -> when it may be forgotten (unix time)
        self.loaded_at: datetime | None = None

    def load(self) -> None:
        """Read the revocations this process has not seen (all of them on the first call)."""
        now = datetime.now(UTC)
        rows = RevokedToken.objects.filter(expires_at__gt=now)
        if self.loaded_at is not None:
            rows = rows.filter(created_date__gte=self.loaded_at - _OVERLAP)
        fresh = {jti: exp.timestamp() for jti, exp in rows.values_list("jti", "expires_at")}
        cutoff = time.time()
        with self.lock:
            self.jtis = {j: t for j, t in self.jtis.items() if t > cutoff}
            self.jtis.update(fresh)
            self.loaded_at = now


_revoked = _Revoked()


def sync() -> None:
    """Called by the registry when the revocation counter moved (and on the first poll)."""
    _revoked.load()


def is_revoked(jti: str) -> bool:
    return jti in _revoked.jtis


def revoke(jti: str, until: float) -> None:
    """Revoke a token id until `until` (unix time), here at once and everywhere soon."""
    expires = datetime.fromtimestamp(until, UTC)
    with _revoked.lock:
        _revoked.jtis[jti] = until
    with transaction.atomic():
        RevokedToken.objects.get_or_create(jti=jti, defaults={"expires_at": expires})
        RevokedToken.objects.filter(expires_at__lt=datetime.now(UTC)).delete()
        bump_revocations()


def clear() -> None:
    """Forget what this process loaded (tests)."""
    with _revoked.lock:
        _revoked.jtis = {}
        _revoked.loaded_at = None
