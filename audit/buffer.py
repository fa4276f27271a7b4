"""A bounded, thread-safe FIFO between the request threads (producers) and the audit flusher
(the consumer). Full, it drops the oldest items and counts them.

Never blocks a producer beyond one short lock, never grows past its capacity, never does I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Buffer(Generic[T]):
    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._lock = threading.Lock()
        self._dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, capacity: int) -> int:
        """Append `item`, first dropping the oldest items beyond `capacity - 1`; returns how many
        items now wait."""
        with self._lock:
            items = self._items
            excess = len(items) - max(capacity, 1) + 1
            if excess > 0:
                for _ in range(excess):
                    items.popleft()
                self._dropped += excess
            items.append(item)
            return len(items)

    def take(self, limit: int) -> list[T]:
        """Remove and return up to `limit` of the oldest items."""
        with self._lock:
            items = self._items
            return [items.popleft() for _ in range(min(limit, len(items)))]

    def take_dropped(self) -> int:
        """How many items were dropped since the last call (and reset the count)."""
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            return dropped

    def clear(self) -> int:
        """Discard every waiting item; returns how many there were."""
        with self._lock:
            count = len(self._items)
            self._items.clear()
            self._dropped = 0
            return count
