"""Limit counters in Django's cache: fixed windows, counted atomically.

With Redis (CACHE_URL=redis://...) every instance shares the counters. A redis-py round trip
costs more CPU than a whole primary-key read, so a process reserves calls in blocks: one
INCRBY takes a lease of up to LEASE_MAX calls, never more than 1/LEASE_SHARE of what the limit
has left, and the process serves them from memory. A lease is 1 call when the process has
not seen the counter yet in this window or when the limit is near (so the count is exact where
it matters), and no call is ever served beyond the rate: at worst a process refuses while
another still holds a few reserved calls. The counter therefore shows calls reserved, which
runs ahead of calls made by at most the open leases. Each-user subjects are recorded in a set
so the admin can list them. Other backends use add() + incr() on every call (local memory is
per process anyway).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from core.metadata import bump
from core.redis_client import client as _redis
from core.redis_client import key as redis_key
from limits.rules import LimitRule

_PREFIX = "gwlimit"
LEASE_MAX = 64
LEASE_SHARE = 32


@dataclass(slots=True)
class _Lease:
    """Calls this process reserved in one window: it may serve numbers `next`..`end`."""

    window: int
    next: int
    end: int  # the last reserved number within the rate
    top: int  # the counter's value after the last reservation


class _Leases:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[str, _Lease] = {}

    def clear(self, prefix: str = "") -> None:
        with self.lock:
            self.by_key = {k: v for k, v in self.by_key.items() if not k.startswith(prefix)}


_leases = _Leases()


def clear_leases() -> None:
    """Forget every lease (after a limit changed or its counters were reset anywhere)."""
    _leases.clear()


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


def hit(
    counted: list[tuple[LimitRule, str]],
    now: float | None = None,
    windows: list[Window] | None = None,
) -> list[int]:
    """Count one call against each (limit, subject): the number this call has in its window
    (above the rate: refuse it)."""
    if windows is None:
        windows = [Window.of(rule, now) for rule, _ in counted]
    client = _redis()
    if client is not None:
        return _hit_shared(client, counted, windows)
    counts = []
    for (rule, subject), window in zip(counted, windows, strict=True):
        key = counter_key(rule, subject, window)
        cache.add(key, 0, timeout=rule.seconds + 60)
        counts.append(cache.incr(key))
        if rule.per_user:
            members = subjects_key(rule, window)
            cache.set(members, {*(cache.get(members) or ()), subject}, rule.seconds + 60)
    return counts


def _hit_shared(
    client: Any, counted: list[tuple[LimitRule, str]], windows: list[Window]
) -> list[int]:
    """Redis: serve each count from this process's lease, reserving a new lease where none is
    left (one pipeline for all of them)."""
    counts: list[int] = [0] * len(counted)
    refills: list[tuple[int, str, int]] = []  # (index, key, lease size)
    with _leases.lock:
        for index, ((rule, subject), window) in enumerate(zip(counted, windows, strict=True)):
            key = counter_key(rule, subject, window)
            lease = _leases.by_key.get(key)
            if lease is not None and lease.window == window.index:
                if lease.next <= lease.end:
                    counts[index] = lease.next
                    lease.next += 1
                    continue
                # over the rate the lease is 1: a refused call still counts (spec §10)
                left = rule.rate - lease.top
                refills.append((index, key, max(1, min(LEASE_MAX, left // LEASE_SHARE))))
            else:
                refills.append((index, key, 1))  # unknown count: exact until we know it
    if not refills:
        return counts
    pipe = client.pipeline(transaction=False)
    for index, key, size in refills:
        rule, subject = counted[index]
        ttl = rule.seconds + 60
        pipe.incrby(redis_key(key), size)
        pipe.expire(redis_key(key), ttl, nx=True)
        if rule.per_user:
            members = redis_key(subjects_key(rule, windows[index]))
            pipe.sadd(members, subject)
            pipe.expire(members, ttl, nx=True)
    replies = iter(pipe.execute())
    with _leases.lock:
        for index, key, size in refills:
            rule = counted[index][0]
            top = int(next(replies))
            next(replies)
            if rule.per_user:
                next(replies), next(replies)
            first = top - size + 1  # this call's number; the rest of the lease is for later
            counts[index] = first
            end = min(top, rule.rate)
            _leases.by_key[key] = _Lease(windows[index].index, first + 1, end, top)
    return counts


def subjects(rule: LimitRule, window: Window) -> list[str]:
    """Who has a counter in this window: "all", or each user seen (u<id>)."""
    if not rule.per_user:
        return ["all"]
    client = _redis()
    if client is not None:
        members = client.smembers(redis_key(subjects_key(rule, window)))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    return sorted(cache.get(subjects_key(rule, window)) or ())


def current(rule: LimitRule) -> list[tuple[str, int]]:
    """(subject, attempts) for every counter of this limit's current window."""
    window = Window.of(rule)
    names = subjects(rule, window)
    keys = [counter_key(rule, s, window) for s in names]
    found = cache.get_many(keys)
    return [(s, int(found.get(k) or 0)) for s, k in zip(names, keys, strict=True)]


def reset_everywhere(rules: list[LimitRule]) -> None:
    """Reset these limits and make every process drop its leases of them."""
    for rule in rules:
        reset(rule)
    bump()


def reset(rule: LimitRule) -> None:
    """Forget this limit's counters for the current window (every subject), and this process's
    leases of it (other processes drop theirs when the metadata version moves)."""
    window = Window.of(rule)
    names = [counter_key(rule, s, window) for s in subjects(rule, window)]
    names.append(subjects_key(rule, window))
    client = _redis()
    if client is not None:
        client.delete(*(redis_key(n) for n in names))
    else:
        cache.delete_many(names)
    _leases.clear(f"{_PREFIX}:{rule.id}:")
