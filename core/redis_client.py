"""One redis-py client per process for the per-request paths (data cache, rate limits).

Django's Redis cache backend builds a new `redis.Redis` for every call (about 50 µs of CPU);
these paths keep one per process, built from the cache's own LOCATION with redis-py's public
`Redis.from_url`, and speak Redis directly (one round trip per request). Keys are made as the
backend makes them (its public `make_key`). None when the default cache is not Redis. The
answer is remembered until the CACHES setting changes (tests) or the process forks.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

_UNKNOWN = object()
_held: Any = _UNKNOWN  # the client, None (not Redis), or _UNKNOWN (look again)
_prefix = ""  # what the backend puts before a key: "KEY_PREFIX:VERSION:"


def client() -> Any | None:
    """The process's client for the default cache, or None (local memory and the like)."""
    global _held, _prefix
    held = _held
    if held is not _UNKNOWN:
        return held
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        _held = None
        return None
    location = settings.CACHES["default"]["LOCATION"]
    primary = (location if isinstance(location, str) else location[0]).split(",")[0]
    _prefix = backend.make_key("")
    _held = redis.Redis.from_url(primary.strip())
    return _held


def key(name: str) -> str:
    """The key Django's default key function makes for `name` (KEY_PREFIX and VERSION)."""
    if _held is _UNKNOWN:
        client()  # reads the backend's prefix and version
    return _prefix + name


def forget(**kwargs: Any) -> None:
    global _held
    _held = _UNKNOWN


@receiver(setting_changed)
def _cache_settings_changed(setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        forget()


os.register_at_fork(after_in_child=forget)  # a worker opens its own connections
