"""The data cache (issue #6): `GET /_table/...` answers of services with `cache_enabled`, kept in
Django's cache (local memory, or Redis shared by every instance) for the service's TTL.

A key is the digest of everything that decides the bytes: the service and its schema version,
the caller's scope (admin, or the role plus the row filters it applies, plus the user on a
service with database roles), the path and the normalised query. Each entry is stamped with
the generations (the instance's, the service's, and each table's the read touches, `related`
ones included) it was read at, and served only while they are still current: a write through
the gateway bumps its table's generation, so every cached read of that table is missed at once
(DF only lets them expire); `_proc` calls, writable `_sql` and the system cache calls bump the
service's or the instance's. With Redis a read costs one MGET (generations and entry
together). Entries carry an ETag; If-None-Match answers 304.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from core import redis_client
from services.plan.types import BoundNode, BoundRead
from services.sql.fragments import where_params, where_shape

_GEN = "gwgen"
# query options that never change the answer (credentials, cache control, verb tunnelling)
_IGNORED = frozenset({"api_key", "session_token", "refresh", "method", "_method", "_"})
# bumps a generation, or starts a missing (never read, or evicted) one at a fresh value
_BUMP = (
    "if redis.call('exists', KEYS[1]) == 1 then return redis.call('incr', KEYS[1]) end "
    "redis.call('set', KEYS[1], ARGV[1]) return tonumber(ARGV[1])"
)


@dataclass(frozen=True, slots=True)
class CachedRead:
    etag: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Lookup:
    """A read's cache key, the generations of what it reads now, and the entry found."""

    key: str
    generations: tuple[int, ...]
    entry: CachedRead | None


def _fresh_generation() -> int:
    """A starting value no earlier generation of an evicted counter can have had."""
    return time.time_ns()


def _generation_keys(service_id: int, tables: list[str]) -> list[str]:
    return [f"{_GEN}:all", f"{_GEN}:s{service_id}", *(f"{_GEN}:t{service_id}:{t}" for t in tables)]


def _bump(name: str) -> None:
    client = redis_client.client()
    if client is not None:
        client.eval(_BUMP, 1, redis_client.key(name), _fresh_generation())
        return
    try:
        cache.incr(name)
    except ValueError:  # never read yet: a fresh, larger starting value
        cache.set(name, _fresh_generation(), timeout=None)


def invalidate_table(service_id: int, table: str) -> None:
    """A write to `table` went through: its cached reads are stale."""
    _bump(f"{_GEN}:t{service_id}:{table}")


def invalidate_service(service_id: int) -> None:
    """Anything in the service may have changed (`_proc`, writable `_sql`, cache clear)."""
    _bump(f"{_GEN}:s{service_id}")


def invalidate_all() -> None:
    """DELETE /api/v2/system/cache: every service's cached reads."""
    _bump(f"{_GEN}:all")


def _filter_part(node: BoundNode | None) -> Any:
    return None if node is None else (where_shape(node), repr(where_params(node)))


def key_for(
    *,
    service_id: int,
    schema_version: int,
    scope: str,
    read: BoundRead,
    row_filter: BoundNode | None,
    segments: list[str],
    query: Mapping[str, str],
) -> str:
    """The cache key of one read: everything that decides its bytes except the data itself
    (the tables' generations travel inside the entry)."""
    options = sorted(
        (k.lower(), k, v) for k, v in query.items() if k.lower() not in _IGNORED and v != ""
    )
    material = repr(
        (
            schema_version,
            scope,
            _filter_part(row_filter),
            [
                (r.relation.name, _filter_part(r.where), _filter_part(r.junction_where))
                for r in read.related
            ],
            [s.lower() if i < 2 else s for i, s in enumerate(segments)],
            [(k, v) for _, k, v in options],
        )
    )
    return f"gwread:{service_id}:{hashlib.sha256(material.encode()).hexdigest()}"


def lookup(key: str, service_id: int, read: BoundRead, *, fetch: bool = True) -> Lookup:
    """The current generations of the tables `read` touches and, with `fetch`, the entry
    stored under `key` if it was built at exactly those generations. One round trip."""
    tables = [read.table.name, *(r.table.name for r in read.related)]
    tables += [r.junction.name for r in read.related if r.junction is not None]
    names = _generation_keys(service_id, tables)
    client = redis_client.client()
    if client is not None:
        wanted = [redis_client.key(n) for n in names] + ([redis_client.key(key)] if fetch else [])
        found = client.mget(wanted)
        raw_entry = found.pop() if fetch else None
    else:
        got = cache.get_many([*names, key] if fetch else names)
        found = [got.get(n) for n in names]
        raw_entry = got.get(key)
    generations = tuple(
        int(value) if value is not None else _start(name)
        for name, value in zip(names, found, strict=True)
    )
    return Lookup(key, generations, _entry(raw_entry, generations))


def _start(name: str) -> int:
    """A generation read for the first time: start it (once, whoever comes first)."""
    client = redis_client.client()
    if client is not None:
        redis_name = redis_client.key(name)
        client.set(redis_name, _fresh_generation(), nx=True)
        return int(client.get(redis_name) or 0)
    cache.add(name, _fresh_generation(), timeout=None)
    return int(cache.get(name) or 0)


def _stamp(generations: tuple[int, ...]) -> bytes:
    return ",".join(map(str, generations)).encode()


def _entry(raw: Any, generations: tuple[int, ...]) -> CachedRead | None:
    """The stored answer if it was built at these generations (else it is stale)."""
    if raw is None:
        return None
    if isinstance(raw, bytes):  # Redis: b"<generations>\n<etag>\n<body>"
        stamp, etag, body = raw.split(b"\n", 2)
        if stamp != _stamp(generations):
            return None
        return CachedRead(etag.decode(), body)
    stamped, etag_text, body_bytes = raw  # local memory: a tuple
    return CachedRead(etag_text, body_bytes) if stamped == generations else None


def put(found: Lookup, body: bytes, ttl: int) -> CachedRead:
    """Keep an answer for `ttl` seconds (0: GATEWAY_DATA_CACHE_DEFAULT_TTL), stamped with the
    generations it was read at."""
    entry = CachedRead(etag=etag_of(body), body=body)
    seconds = ttl or settings.GATEWAY_DATA_CACHE_DEFAULT_TTL
    client = redis_client.client()
    if client is not None:
        payload = _stamp(found.generations) + b"\n" + entry.etag.encode() + b"\n" + body
        client.set(redis_client.key(found.key), payload, ex=seconds)
    else:
        cache.set(found.key, (found.generations, entry.etag, entry.body), timeout=seconds)
    return entry


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match holds this ETag (or `*`); weak validators compare equal too."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags
