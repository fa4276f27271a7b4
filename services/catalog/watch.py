"""A service's schema cache that follows the database (issue #10, schema drift).

A table or column created, altered or dropped outside the gateway must be served correctly
within a second, with no manual flush and without blocking requests:

- While a service is used, at most every GATEWAY_SCHEMA_CHECK_SECONDS a background thread
  reads a catalog fingerprint (services/catalog/introspection.py); when it moved, the schema is
  introspected again and swapped in. Requests keep the old cache until the new one is ready.
- A request that names a table or column the cache does not know checks the fingerprint at once
  (`changed()`), so a new table answers on its first request; an error from the database that
  proves the cache stale (42P01, 42703) reloads it unconditionally.

Carried across registry rebuilds with the pool; dropped when the gateway itself changed the
schema (`_schema`), which every process learns through the metadata version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from services.catalog.introspection import fingerprint, introspect
from services.catalog.schema_cache import SchemaCache
from services.db import executor

log = logging.getLogger(__name__)

Reloaded = Callable[[], None]  # told when an outside change replaced the cache


class SchemaWatch:
    """The schema cache of one service, the fingerprint it was read at, and its freshness."""

    def __init__(self) -> None:
        self.schema: SchemaCache | None = None
        self.extras: dict[str, Any] = {}  # other per-service catalog caches (routines, ...)
        self.fingerprint: str | None = None
        self.checked_at = float("-inf")  # time.monotonic() when the last check began
        self.reloaded_at = float("-inf")  # ... and when the last reload began
        self._lock = threading.Lock()  # one introspection at a time
        self._checking = False  # a background check is running
        self.on_reload: Reloaded | None = None

    # --- the cache ---------------------------------------------------------------------------

    def get(self, live: Any, *, refresh: bool = False) -> SchemaCache:
        """The schema cache: introspected on first use or when `refresh` is asked; otherwise
        as it is, with a background check when the last one is older than the interval."""
        cached = self.schema
        if cached is not None and not refresh:
            self._maybe_check(live)
            return cached
        with self._lock:
            if self.schema is None or refresh:
                return self._load(live)
            return self.schema

    def cached(self, key: str, build: Callable[[], Any], *, refresh: bool = False) -> Any:
        """Another per-service catalog cache (e.g. routines), dropped with the schema cache."""
        if not refresh and key in self.extras:
            return self.extras[key]
        value = build()
        self.extras[key] = value
        return value

    def drop(self) -> None:
        self.schema = None
        self.fingerprint = None
        self.extras = {}

    # --- following the database --------------------------------------------------------------

    def changed(self, live: Any, *, since: float, certain: bool = False) -> bool:
        """Reload if the catalog moved (or, `certain`, in any case) since the caller's request
        began at `since` (time.monotonic()); True when the cache was replaced after that, so the
        request may run again. Concurrent callers share one check: a check that began after a
        caller's request began answers for it too."""
        with self._lock:
            if self.checked_at >= since:  # looked at after this request began
                return self.reloaded_at >= since
            before = self.fingerprint
            started = time.monotonic()
            if not certain:
                current = executor.read(
                    live, lambda conn: fingerprint(conn, live.config.schema), catalog=True
                )
                if current == before:
                    self.checked_at = started
                    return False
            self._load(live)
            self.checked_at = self.reloaded_at = started
        self._reloaded(live, before)
        return True

    def _maybe_check(self, live: Any) -> None:
        interval = _interval()
        if interval <= 0 or self._checking:
            return
        if time.monotonic() - self.checked_at < interval:
            return
        self._checking = True
        threading.Thread(
            target=self._check, args=(live,), name=f"schema-watch:{live.config.name}", daemon=True
        ).start()

    def _check(self, live: Any) -> None:
        try:
            self.changed(live, since=time.monotonic())
        except Exception as exc:  # the next request's check tries again
            log.info("schema check of service %s failed: %s", live.config.name, exc)
        finally:
            self._checking = False

    def _load(self, live: Any) -> SchemaCache:
        """Introspect (under the lock): the fingerprint first, so a change during the read is
        seen by the next check rather than lost."""
        schema = live.config.schema

        def read(conn: Any) -> tuple[str, SchemaCache]:
            return fingerprint(conn, schema), introspect(conn, schema)

        started = time.monotonic()
        self.fingerprint, cache = executor.read(live, read, catalog=True)
        self.schema, self.extras = cache, {}
        self.checked_at = self.reloaded_at = started
        return cache

    def _reloaded(self, live: Any, before: str | None) -> None:
        if before is None:
            return
        log.info("service %s: schema changed outside the gateway; reloaded", live.config.name)
        if self.on_reload is not None:
            self.on_reload()


def _interval() -> float:
    return float(settings.GATEWAY_SCHEMA_CHECK_SECONDS)
