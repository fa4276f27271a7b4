"""A per-service circuit breaker: while a database is unreachable, calls fail at once.

Closed: calls go through. Open: `check()` raises the last connection failure (503 with
Retry-After) without touching the network, until a probe succeeds and `reset()` closes it.
Pure state, thread-safe; the probing itself lives in services/db/pools.py.
"""

from __future__ import annotations

import threading
import time

from core.errors import ServiceUnavailable

RETRY_AFTER_SECONDS = 1  # what an open breaker tells clients (a probe runs several times a second)


class Breaker:
    """Open while the service's database cannot be reached; holds the reason to answer with."""

    __slots__ = ("_error", "_lock", "last_error", "last_error_at", "name", "opened_at", "trips")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._error: ServiceUnavailable | None = None
        self.opened_at = 0.0  # time.monotonic() of the last trip
        self.trips = 0  # how many times it opened (for logs and tests)
        self.last_error = ""  # the last trip's message, kept after the breaker closes
        self.last_error_at = 0.0  # time.time() of the last trip (the admin dashboard shows it)

    @property
    def is_open(self) -> bool:
        return self._error is not None

    def check(self) -> None:
        """Raise the open breaker's 503 (a fresh instance each call); nothing when closed."""
        error = self._error
        if error is not None:
            raise unavailable(error.message, reason=str((error.context or {}).get("reason")))

    def trip(self, error: ServiceUnavailable) -> bool:
        """Open with this reason; True when it was closed (the caller starts the probe)."""
        with self._lock:
            was_closed = self._error is None
            self._error = error
            self.last_error, self.last_error_at = error.message, time.time()
            if was_closed:
                self.opened_at = time.monotonic()
                self.trips += 1
            return was_closed

    def reset(self) -> None:
        """Close: the database answers again."""
        with self._lock:
            self._error = None


def unavailable(message: str, *, reason: str) -> ServiceUnavailable:
    """A 503 that tells the client when to retry."""
    return ServiceUnavailable(
        message,
        context={"reason": reason},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
