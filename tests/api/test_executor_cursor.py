"""services.db.executor.run: one reusable cursor per connection, gone with its connection."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import psycopg

from services.db import executor


def test_the_cursor_is_reused_and_dies_with_its_connection(seeded: dict[str, Any]) -> None:
    conn = psycopg.connect(seeded["conninfo"], autocommit=True)
    first = executor.run(conn, "SELECT %s::int", [1])
    assert first.fetchone() == (1,)
    again = executor.run(conn, "SELECT %s::int + 1", [1])
    assert again is first and again.fetchone() == (2,)  # the same cursor, the new result
    gone = weakref.ref(conn)
    conn.close()
    del conn, first, again
    gc.collect()
    assert gone() is None  # a replaced pool connection is not kept alive by its cursor
