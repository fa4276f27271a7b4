"""Readiness: can this process serve requests? The metadata database answers SELECT 1 and the
cache backend returns what it was given. A result names the check that failed and the kind of
error, never a host, a URL or a secret (those go to the log only).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection

log = logging.getLogger("gateway")

# A key per process: probes overwrite it instead of leaving a new key behind every time.
_CACHE_KEY = f"gateway:ready:{socket.gethostname()}:{os.getpid()}"
_CACHE_TTL = 10  # seconds


class ReadinessError(Exception):
    """A dependency answered, but not as it should."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str | None = None  # the exception's class name
    detail: str | None = None  # what did not work, in words

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {"status": "ok" if self.ok else "failed", "ms": self.ms}
        if not self.ok:
            result["error"], result["detail"] = self.error, self.detail
        return result


def check_database() -> None:
    """The metadata database answers SELECT 1."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        if cursor.fetchone() != (1,):
            raise ReadinessError("SELECT 1 did not return 1")


def check_cache() -> None:
    """The cache backend stores a short-lived value and returns it."""
    token = uuid.uuid4().hex
    cache.set(_CACHE_KEY, token, timeout=_CACHE_TTL)
    if cache.get(_CACHE_KEY) != token:
        raise ReadinessError("the cache did not return the value it was given")


CHECKS: dict[str, tuple[Callable[[], None], str]] = {
    "database": (check_database, "The metadata database did not answer SELECT 1."),
    "cache": (check_cache, "The cache backend did not store and return a value."),
}


def run_checks() -> list[CheckResult]:
    """Every check, in order; each failure is logged with its full error."""
    results = []
    for name, (check, detail) in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:
            ms = round((time.perf_counter() - started) * 1000, 2)
            log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results.append(CheckResult(name, False, ms, type(exc).__name__, detail))
        else:
            results.append(
                CheckResult(name, True, round((time.perf_counter() - started) * 1000, 2))
            )
    return results
