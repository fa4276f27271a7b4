"""The admin dashboard's live view of each database service, from this process: does it answer
`SELECT 1` through its pool and how fast, how many pooled connections are in use, and the last
error its circuit breaker saw (kept after the database comes back)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.errors import GatewayError
from services.models import Service
from services.registry import registry


@dataclass(frozen=True, slots=True)
class LiveState:
    state: str  # "reachable", "unreachable", "inactive" or "broken" (settings unusable)
    latency_ms: float | None = None
    in_use: int | None = None
    pool_size: int | None = None
    error: str = ""  # why it is not reachable now
    last_error: str = ""  # the last failure this process saw, even if it answers again
    last_error_at: float = 0.0  # time.time() of last_error

    @property
    def last_error_ago(self) -> str:
        """ "12 s ago", "5 min ago", "3 h ago" (blank without a last error)."""
        if not self.last_error_at:
            return ""
        seconds = max(0, int(time.time() - self.last_error_at))
        for unit, size in (("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit} ago"
        return f"{seconds} s ago"


def probe(service: Service) -> LiveState:
    """One `SELECT 1` through the service's pool (the breaker answers at once when open)."""
    if not service.is_active:
        return LiveState("inactive")
    problem = service.problem()
    if problem:
        return LiveState("broken", error=problem)
    try:
        live = registry.get(service.name)
    except GatewayError as exc:
        return LiveState("unreachable", error=exc.message)
    pool, breaker = live.pool, live.pool.breaker
    started = time.perf_counter()
    error = ""
    try:
        with pool.connection(catalog=True) as conn:
            conn.execute("SELECT 1")
    except GatewayError as exc:
        error = exc.message
    latency = (time.perf_counter() - started) * 1000
    stats = pool.stats()
    size = stats.get("pool_size")
    in_use = size - stats.get("pool_available", 0) if size is not None else None
    return LiveState(
        "unreachable" if error else "reachable",
        latency_ms=None if error else round(latency, 1),
        in_use=in_use,
        pool_size=size,
        error=error,
        last_error=breaker.last_error,
        last_error_at=breaker.last_error_at,
    )
