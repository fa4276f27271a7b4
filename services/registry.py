"""Namespace -> live service (config snapshot, pool, schema cache), cached in process.

A request never queries the metadata DB: this process re-reads the services only when the
metadata version stamp (core/metadata.py) moved. A changed connection setting replaces the
pool.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F

from core.errors import Forbidden, NotFound, ServiceUnavailable
from core.metadata import Stamp, bump, stamp
from services.catalog.describe import EXTRAS_KEY, Extras, read_extras
from services.catalog.routines import RoutineCatalog, load_catalog
from services.catalog.schema_cache import SchemaCache
from services.catalog.watch import SchemaWatch
from services.config import ServiceConfig
from services.db import executor
from services.db.pools import ServicePool
from services.models import Service

log = logging.getLogger(__name__)


@dataclass
class LiveService:
    """One active service in this process: its snapshot, pool and (lazy) schema cache, which
    follows changes made outside the gateway (services/catalog/watch.py)."""

    config: ServiceConfig
    pool: ServicePool
    watch: SchemaWatch = field(default_factory=SchemaWatch)

    def schema(self, *, refresh: bool = False) -> SchemaCache:
        """The schema cache, introspected on first use or when `refresh` is asked."""
        return self.watch.get(self, refresh=refresh)

    def schema_moved(self, *, since: float, certain: bool = False) -> bool:
        """Re-read the schema if the database changed (see SchemaWatch.changed)."""
        return self.watch.changed(self, since=since, certain=certain)

    def schema_changed(self) -> None:
        """This process changed the database schema: re-read it here and tell every process."""
        try:
            self.schema(refresh=True)
        finally:
            Service.objects.filter(pk=self.config.id).update(schema_version=F("schema_version") + 1)
            bump()

    def cached(self, key: str, build: Callable[[], Any], *, refresh: bool = False) -> Any:
        """Another per-service catalog cache (e.g. routines), dropped with the schema cache."""
        return self.watch.cached(key, build, refresh=refresh)

    def routines(self, *, refresh: bool = False) -> RoutineCatalog:
        """The stored functions and procedures, read once and kept with the schema cache."""

        def build() -> RoutineCatalog:
            schema = self.config.schema
            return executor.read(self, lambda conn: load_catalog(conn, schema), catalog=True)

        catalog: RoutineCatalog = self.cached("routines", build, refresh=refresh)
        return catalog

    def extras(self, cache: SchemaCache, *, refresh: bool = False) -> Extras:
        """Comments, indexes and constraints of the relations in `cache`, kept alongside it."""

        def build() -> Extras:
            schemas = sorted({t.schema for t in cache.tables.values()})
            if not schemas:
                return {}
            return executor.read(self, lambda conn: read_extras(conn, schemas), catalog=True)

        extras: Extras = self.cached(EXTRAS_KEY, build, refresh=refresh)
        return extras

    def drop_schema(self) -> None:
        self.watch.drop()


class Registry:
    """The process-wide map of services, re-read when the metadata version stamp moves."""

    def __init__(self, version: Stamp = stamp) -> None:
        self._lock = threading.Lock()
        self._services: dict[str, LiveService] = {}
        self._loaded = False  # read once even if the stamp was polled before we listened
        self._reload_listeners: list[Callable[[int], None]] = []
        self.stamp = version
        version.on_change(self.reload)

    def on_schema_reload(self, listener: Callable[[int], None]) -> None:
        """Call `listener(service_id)` each time a service's schema cache is re-read (wired in
        services/apps.py: cached reads of the old shape must not outlive it)."""
        self._reload_listeners.append(listener)

    def _schema_reloaded(self, service_id: int) -> None:
        for listener in self._reload_listeners:
            listener(service_id)

    def poll(self) -> None:
        """Check the metadata version stamp if the poll interval has passed."""
        self.stamp.poll()

    def find(self, name: str) -> LiveService | None:
        """The live service for a namespace, active or not; None when unknown (no polling)."""
        return self._services.get(name.lower())

    def get(self, name: str) -> LiveService:
        """The live service for a namespace: 404 unknown, 403 inactive (spec §2.2)."""
        self.stamp.poll()
        if not self._loaded:
            self.reload()
        live = self._services.get(name.lower())
        if live is None:
            raise NotFound(f"Could not find a service for {name}")
        if not live.config.is_active:
            raise Forbidden(f"Service {live.config.name} is deactivated.")
        if live.config.problem:
            raise ServiceUnavailable(
                f"Service '{live.config.name}' cannot be used: {live.config.problem}.",
                context={"reason": "broken_config"},
            )
        return live

    def invalidate(self) -> None:
        """Re-read services on the next request (this process wrote a change)."""
        self.stamp.invalidate()

    def reload(self) -> None:
        """Stamp listener: read every service row and swap in the new snapshots."""
        fresh = {s.name: _snapshot(s) for s in Service.objects.databases()}
        with self._lock:
            self._rebuild(fresh)
            self._loaded = True

    def _rebuild(self, fresh: dict[str, ServiceConfig]) -> None:
        """Swap in the new snapshots, keeping pools and schema caches that still fit."""
        old = self._services
        new: dict[str, LiveService] = {}
        for name, config in fresh.items():
            prev = old.get(name)
            if prev is not None and prev.config.connection_key == config.connection_key:
                if config.is_active:
                    prev.pool.config = config  # same connections; options such as use_db_roles
                    new[name] = LiveService(config, prev.pool, prev.watch)
                    if (config.schema, config.schema_version) != (
                        prev.config.schema,
                        prev.config.schema_version,
                    ):
                        new[name].drop_schema()
                    elif config != prev.config:  # e.g. allow_sql: the OpenAPI document differs
                        prev.watch.extras = {}
                    continue
                prev.pool.close()
                new[name] = LiveService(config, ServicePool(config))
                continue
            if prev is not None:
                prev.pool.close()
            new[name] = LiveService(config, ServicePool(config))
        for live in new.values():
            live.watch.on_reload = functools.partial(self._schema_reloaded, live.config.id)
        for name, prev in old.items():
            if name not in fresh:
                prev.pool.close()
        self._services = new

    def close_all(self) -> None:
        with self._lock:
            for live in self._services.values():
                live.pool.close()
            self._services = {}
            self._loaded = False
        self.stamp.invalidate()

    def pool_stats(self) -> dict[str, dict[str, Any]]:
        return {name: live.pool.stats() for name, live in self._services.items()}


registry = Registry()


def _snapshot(service: Any) -> ServiceConfig:
    """A service row as a ServiceConfig; a row that cannot be read is marked, not fatal."""
    try:
        return ServiceConfig.from_model(service)
    except Exception as exc:
        log.exception("service %s could not be loaded", service.name)
        return ServiceConfig.unusable(
            service.pk, service.name, f"its stored row could not be loaded ({type(exc).__name__})"
        )
