"""Limit counters in Django's cache: fixed windows, counted atomically.

With Redis (CACHE_URL=redis://...) every instance shares the counters: one pipeline per call
does INCR and EXPIRE ... NX for each limit (and records each-user subjects in a set so the
admin can list them). Other backends use add() + incr(), atomic per process (local memory).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from limits.rules import LimitRule

_PREFIX = "gwlimit"


@dataclass(frozen=True, slots=True)
class Window:
    """The current counting window of a limit."""

    index: int
    reset: int  # unix time at which it ends

    @classmethod
    def of(cls, rule: LimitRule, now: float | None = None) -> Window:
        seconds = rule.seconds
        index = int((time.time() if now is None else now) // seconds)
        return cls(index, (index + 1) * seconds)


def counter_key(rule: LimitRule, subject: str, window: Window) -> str:
    return f"{_PREFIX}:{rule.id}:{subject}:{window.index}"


def subjects_key(rule: LimitRule, window: Window) -> str:
    return f"{_PREFIX}:{rule.id}:subjects:{window.index}"


def _redis() -> Any | None:
    """The raw redis-py client when the default cache is Django's Redis backend (`cache` is a
    proxy: the backend itself is caches["default"])."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend._cache.get_client(write=True)
    return None


def hit(counted: list[tuple[LimitRule, str]], now: float | None = None) -> list[int]:
    """Count one call against each (limit, subject); the counts after this call."""
    windows = [Window.of(rule, now) for rule, _ in counted]
    client = _redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for (rule, subject), window in zip(counted, windows, strict=True):
            key = cache.make_and_validate_key(counter_key(rule, subject, window))
            pipe.incr(key)
            pipe.expire(key, rule.seconds + 60, nx=True)
            if rule.per_user:
                members = cache.make_and_validate_key(subjects_key(rule, window))
                pipe.sadd(members, subject)
                pipe.expire(members, rule.seconds + 60, nx=True)
        replies = pipe.execute()
        counts, index = [], 0
        for rule, _ in counted:
            counts.append(int(replies[index]))
            index += 4 if rule.per_user else 2
        return counts
    counts = []
    for (rule, subject), window in zip(counted, windows, strict=True):
        key = counter_key(rule, subject, window)
        cache.add(key, 0, timeout=rule.seconds + 60)
        counts.append(cache.incr(key))
        if rule.per_user:
            members = subjects_key(rule, window)
            cache.set(members, {*(cache.get(members) or ()), subject}, rule.seconds + 60)
    return counts


def subjects(rule: LimitRule, window: Window) -> list[str]:
    """Who has a counter in this window: "all", or each user seen (u<id>)."""
    if not rule.per_user:
        return ["all"]
    client = _redis()
    if client is not None:
        members = client.smembers(cache.make_and_validate_key(subjects_key(rule, window)))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    return sorted(cache.get(subjects_key(rule, window)) or ())


def current(rule: LimitRule) -> list[tuple[str, int]]:
    """(subject, attempts) for every counter of this limit's current window."""
    window = Window.of(rule)
    names = subjects(rule, window)
    keys = [counter_key(rule, s, window) for s in names]
    found = cache.get_many(keys)
    return [(s, int(found.get(k) or 0)) for s, k in zip(names, keys, strict=True)]


def reset(rule: LimitRule) -> None:
    """Forget this limit's counters for the current window (every subject)."""
    window = Window.of(rule)
    keys = [counter_key(rule, s, window) for s in subjects(rule, window)]
    cache.delete_many([*keys, subjects_key(rule, window)])
