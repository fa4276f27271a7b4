"""A bounded cache of rendered statement texts, keyed by a plan's shape (never its values).

Composing psycopg.sql objects and rendering them costs more than the query itself for a
primary-key read, so the compiler renders each distinct shape once and reuses the text; the
values always travel separately as bound parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from psycopg import sql


class StatementCache:
    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._texts: dict[Hashable, tuple[bytes, Any]] = {}
        self._lock = threading.Lock()

    def text(
        self,
        key: Hashable,
        build: Callable[[list[Any]], sql.Composable],
        params: list[Any],
        anchor: Any,
    ) -> bytes:
        """The rendered text for `key`; on a miss, build it and check its parameter order.

        `anchor` (the Table the statement reads) is kept alive with the entry so the object
        ids in keys can never be reused while the entry exists.
        """
        hit = self._texts.get(key)
        if hit is not None:
            return hit[0]
        built_params: list[Any] = []
        text = build(built_params).as_bytes(None)
        if len(built_params) != len(params) or any(
            a is not b and a != b for a, b in zip(built_params, params, strict=True)
        ):
            raise RuntimeError(f"statement parameters out of order for shape {key!r}")
        with self._lock:
            if len(self._texts) >= self._size:
                self._texts.clear()
            self._texts[key] = (text, anchor)
        return text

    def clear(self) -> None:
        with self._lock:
            self._texts.clear()


statements = StatementCache()
