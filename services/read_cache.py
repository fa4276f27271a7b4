"""The data cache (issue #6): `GET /_table/...` answers of services with `cache_enabled`, kept in
Django's cache (local memory, or Redis shared by every instance) for the service's TTL.

A key is the digest of everything that decides the bytes: the service and its schema version,
the caller's scope (admin, or the role plus the row filters it applies, plus the user on a
service with database roles), the path and the normalised query, and the generation of every
table the read touches (the table itself and its `related` tables). A write through the gateway
bumps its table's generation, so every cached read of that table is missed at once (DF only
lets them expire); `_proc` calls, writable `_sql` and the system cache calls bump the service's
or the instance's generation. Entries carry an ETag; If-None-Match answers 304.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from services.plan.types import BoundNode, BoundRead
from services.sql.fragments import where_params, where_shape

_GEN = "gwgen"
# query options that never change the answer (credentials, cache control, verb tunnelling)
_IGNORED = frozenset({"api_key", "session_token", "refresh", "method", "_method", "_"})


@dataclass(frozen=True, slots=True)
class CachedRead:
    etag: str
    body: bytes


def _fresh_generation() -> int:
    """A starting value no earlier generation of an evicted counter can have had."""
    return time.time_ns()


def _generation_keys(service_id: int, tables: Iterable[str]) -> list[str]:
    return [f"{_GEN}:all", f"{_GEN}:s{service_id}", *(f"{_GEN}:t{service_id}:{t}" for t in tables)]


def _generations(keys: list[str]) -> list[int]:
    """The current generation of each key; a missing one is started (so it stays stable)."""
    found = cache.get_many(keys)
    out = []
    for key in keys:
        value = found.get(key)
        if value is None:
            cache.add(key, _fresh_generation(), timeout=None)
            value = cache.get(key)
        out.append(int(value or 0))
    return out


def _bump(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # never read yet, or evicted: a fresh, larger starting value
        cache.set(key, _fresh_generation(), timeout=None)


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
    """The cache key of one read, for the tables' current generations."""
    tables = [read.table.name, *(r.table.name for r in read.related)]
    generations = _generations(_generation_keys(service_id, tables))
    options = sorted(
        (k.lower(), k, v) for k, v in query.items() if k.lower() not in _IGNORED and v != ""
    )
    material = repr(
        (
            schema_version,
            scope,
            generations,
            _filter_part(row_filter),
            [(r.relation.name, _filter_part(r.where)) for r in read.related],
            [s.lower() if i < 2 else s for i, s in enumerate(segments)],
            [(k, v) for _, k, v in options],
        )
    )
    return f"gwread:{service_id}:{hashlib.sha256(material.encode()).hexdigest()}"


def get(key: str) -> CachedRead | None:
    found = cache.get(key)
    return CachedRead(*found) if found else None


def put(key: str, body: bytes, ttl: int) -> CachedRead:
    """Keep an answer for `ttl` seconds (0: GATEWAY_DATA_CACHE_DEFAULT_TTL)."""
    entry = CachedRead(etag=etag_of(body), body=body)
    cache.set(key, (entry.etag, entry.body), timeout=ttl or settings.GATEWAY_DATA_CACHE_DEFAULT_TTL)
    return entry


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match holds this ETag (or `*`); weak validators compare equal too."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags
