"""Prometheus metrics: each /api/ request's outcome (observe(), a core.context observer) and the
service pools, read when /metrics is scraped. Never does I/O on the request path.

Multi-process servers: with PROMETHEUS_MULTIPROC_DIR set, every worker writes its samples to
files there and a scrape merges them (prometheus-client's multiprocess mode); without it each
process reports only its own requests. Label values come from fixed sets or registered
services, never from raw request input, so a caller cannot grow the label space.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpResponseBase
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics import disable_created_metrics
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.context import RequestContext
from services.registry import registry

# prometheus-client picks its value store when it is imported: files in the directory named by
# PROMETHEUS_MULTIPROC_DIR if that variable is set, else plain in-process numbers.
MULTIPROCESS: bool = values.ValueClass is not values.MutexValue
MULTIPROC_DIR: str = settings.PROMETHEUS_MULTIPROC_DIR

# 1 ms .. 10 s: a cached read takes about a millisecond, statement timeouts are seconds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SYSTEM_NAMESPACES = frozenset({"system", "user", "api_docs"})
VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"})
CACHE_RESULTS = frozenset({"hit", "miss", "bypass"})
POOL_REFRESH_SECONDS = 1.0  # multiprocess mode: how often a worker republishes its pool sizes

POOL_GAUGES = {
    "gateway_pool_size": "Connections open in the service's pool (in use or idle).",
    "gateway_pool_in_use": "Pooled connections lent to a request right now.",
    "gateway_pool_waiting": "Requests waiting for a pooled connection.",
    "gateway_pool_max": "The most connections the service's pool may open (pool_max).",
}


def _check_directory() -> None:
    """Multiprocess mode needs a writable directory; say so at start, not on every request."""
    if not MULTIPROCESS:
        return
    if not MULTIPROC_DIR:
        raise ImproperlyConfigured(
            "PROMETHEUS_MULTIPROC_DIR is set but empty; unset it (one process) or name a directory."
        )
    try:
        os.makedirs(MULTIPROC_DIR, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR={MULTIPROC_DIR} cannot be created: {exc.strerror}"
        ) from None
    if not os.access(MULTIPROC_DIR, os.W_OK):
        raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={MULTIPROC_DIR} is not writable.")


_check_directory()
# no *_created series: they double the output and nobody graphs them
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client: untyped

REQUESTS = Counter(
    "gateway_requests",
    "API requests answered, by service, verb and HTTP status.",
    ["service", "verb", "status"],
)


class TalliedHistogram(Histogram):
    """A Histogram that also takes observations already tallied per bucket: what `observe()`
    does once per value, done once per bucket (the requests of a flush interval)."""

    def observe_tally(self, total: float, counts: list[int]) -> None:
        """Add `sum(counts)` observations summing to `total`, counts[i] in bucket i."""
        self._sum.inc(total)  # Histogram keeps these for its subclasses: its own state
        for index, number in enumerate(counts):
            if number:
                self._buckets[index].inc(number)


DURATION = TalliedHistogram(
    "gateway_request_duration_seconds",
    "Time from the start of an API request until its answer was ready.",
    ["service"],
    buckets=DURATION_BUCKETS,
)
CACHE = Counter(
    "gateway_cache",
    "Cacheable data API reads by outcome (hit, miss, bypass).",
    ["service", "result"],
)
LIMIT_REJECTIONS = Counter(
    "gateway_limit_rejections", "API requests refused by a rate limit.", ["service"]
)


def pool_stats() -> dict[str, dict[str, int]]:
    """{service: {size, in_use, waiting, max}} for this process's service pools."""
    stats: dict[str, dict[str, int]] = {}
    for name, raw in registry.pool_stats().items():
        size = int(raw.get("pool_size", 0))
        stats[name] = {
            "gateway_pool_size": size,
            "gateway_pool_in_use": max(0, size - int(raw.get("pool_available", 0))),
            "gateway_pool_waiting": int(raw.get("requests_waiting", 0)),
            "gateway_pool_max": int(raw.get("pool_max", 0)),
        }
    return stats


class PoolCollector(Collector):
    """Pool gauges read from the registry at scrape time (one process)."""

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily(name, text, labels=["service"]) for name, text in POOL_GAUGES.items()
        ]

    def collect(self) -> Iterable[Metric]:
        families = {
            name: GaugeMetricFamily(name, text, labels=["service"])
            for name, text in POOL_GAUGES.items()
        }
        for service, stats in sorted(pool_stats().items()):
            for name, value in stats.items():
                families[name].add_metric([service], value)
        return list(families.values())


class _SharedPools:
    """Multiprocess mode: each worker publishes its pool sizes to live-summed gauges (a scrape
    sees the sum over the running workers), at most once a second, from the request path."""

    def __init__(self) -> None:
        self.gauges = {
            name: Gauge(name, text, ["service"], multiprocess_mode="livesum", registry=None)
            for name, text in POOL_GAUGES.items()
        }
        self._published: set[str] = set()
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_publish(self) -> None:
        if time.monotonic() >= self._next:
            self.publish()

    def publish(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread of this worker is at it
        try:
            self._next = time.monotonic() + POOL_REFRESH_SECONDS
            stats = pool_stats()
            for gone in self._published - stats.keys():  # a service removed or replaced
                for gauge in self.gauges.values():
                    gauge.labels(gone).set(0)
            for service, sample in stats.items():
                for name, value in sample.items():
                    self.gauges[name].labels(service).set(value)
            self._published = set(stats)
        finally:
            self._lock.release()


_shared_pools: _SharedPools | None = _SharedPools() if MULTIPROCESS else None
if _shared_pools is None:
    REGISTRY.register(PoolCollector())


def service_label(name: str | None) -> str:
    """The service as a label: a registered service or a system namespace, else ""."""
    if not name:
        return ""
    if name in SYSTEM_NAMESPACES:
        return name
    return name if registry.find(name) is not None else ""


# (service, verb, status) -> the counter and histogram children: labels() takes a lock and
# validates its arguments on every call, a dict lookup does not.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_cache_children: dict[tuple[str, str], Any] = {}

# Requests are tallied in plain dicts and added to the metrics at most every FLUSH_SECONDS
# (and before every scrape and at exit): in multiprocess mode each metric update is a write to
# a memory-mapped file, several per request otherwise.
FLUSH_SECONDS = 0.5
_BOUNDS = (*DURATION_BUCKETS, float("inf"))
_lock = threading.Lock()
_pending: dict[tuple[str, str, int], list[Any]] = {}  # key -> [count, sum, per-bucket counts]
_pending_cache: dict[tuple[str, str], int] = {}
_pending_limits: dict[str, int] = {}
_flushed_at = time.monotonic()


def observe(context: RequestContext, response: HttpResponseBase) -> None:
    """Count one answered /api/ request (a core.context observer)."""
    global _flushed_at
    service = service_label(context.service)
    verb = context.verb if context.verb in VERBS else "OTHER"
    key = (service, verb, context.status)
    duration = context.duration
    slot = bisect_left(_BOUNDS, duration)  # the first bucket whose bound holds it
    now = time.monotonic()
    with _lock:
        tally = _pending.get(key)
        if tally is None:
            tally = _pending[key] = [0, 0.0, [0] * len(_BOUNDS)]
        tally[0] += 1
        tally[1] += duration
        tally[2][slot] += 1
        if context.cache is not None:
            result = context.cache if context.cache in CACHE_RESULTS else "other"
            _pending_cache[(service, result)] = _pending_cache.get((service, result), 0) + 1
        if context.limited_by is not None:
            _pending_limits[service] = _pending_limits.get(service, 0) + 1
        due = now - _flushed_at >= FLUSH_SECONDS
        if due:
            _flushed_at = now
    if due:
        flush()
    if _shared_pools is not None:
        _shared_pools.maybe_publish()


def flush() -> None:
    """Add the tallied requests to the metrics (and to the files, in multiprocess mode)."""
    global _pending, _pending_cache, _pending_limits
    with _lock:
        pending, _pending = _pending, {}
        cache, _pending_cache = _pending_cache, {}
        limits, _pending_limits = _pending_limits, {}
    for (service, verb, status), (count, total, buckets) in pending.items():
        children = _children.get((service, verb, status))
        if children is None:
            children = _children.setdefault(
                (service, verb, status),
                (REQUESTS.labels(service, verb, str(status)), DURATION.labels(service)),
            )
        counter, histogram = children
        counter.inc(count)
        histogram.observe_tally(total, buckets)
    for (service, result), count in cache.items():
        child = _cache_children.get((service, result))
        if child is None:
            child = _cache_children.setdefault((service, result), CACHE.labels(service, result))
        child.inc(count)
    for service, count in limits.items():
        LIMIT_REJECTIONS.labels(service).inc(count)


def render(accept: str) -> tuple[bytes, str]:
    """The exposition for a scrape: (body, content type), in the format `accept` asks for.
    Http404 when GATEWAY_METRICS is false (nothing is recorded then)."""
    if not settings.GATEWAY_METRICS:
        raise Http404("metrics are turned off (GATEWAY_METRICS=false)")
    encoder, content_type = choose_encoder(accept)
    flush()  # this process's tallies; other workers add theirs within FLUSH_SECONDS
    if _shared_pools is None:
        return encoder(REGISTRY), content_type
    _shared_pools.publish()  # this worker's pools as of now; the others' within a second
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)  # type: ignore[no-untyped-call]  # untyped
    return encoder(registry), content_type


def process_exited() -> None:
    """Count what is still tallied; in multiprocess mode drop this process's live pool gauges
    (its counters stay counted)."""
    flush()
    if MULTIPROCESS:
        prometheus_multiprocess.mark_process_dead(os.getpid(), MULTIPROC_DIR)  # type: ignore[no-untyped-call]  # untyped
