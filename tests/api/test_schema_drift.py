"""Schema drift (issue #10): tables and columns created, altered or dropped outside the gateway
are served correctly within a second, with no error and no manual flush; cached reads follow.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import sql

from tests.conftest import Api

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
WITHIN = 1.0  # seconds


@pytest.fixture
def drift(pg: Any) -> Iterator[str]:
    """A table of this test's own, dropped afterwards whatever the test did to it."""
    name = f"drift_{uuid.uuid4().hex[:8]}"
    pg.execute(
        sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, label text, extra text)").format(
            sql.Identifier(name)
        )
    )
    pg.execute(sql.SQL("INSERT INTO {} VALUES (1, 'one', 'x')").format(sql.Identifier(name)))
    yield name
    pg.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def _until(check: Callable[[], tuple[int, Any]], done: Callable[[int, Any], bool]) -> float:
    """Call until `done`; every answer on the way must be a 2xx or 404 (never a 5xx)."""
    start = time.monotonic()
    while True:
        status, body = check()
        assert status < 500, body
        if done(status, body):
            return time.monotonic() - start
        assert time.monotonic() - start < WITHIN + 1.0, (status, body)
        time.sleep(0.02)


def test_a_column_added_outside_appears_within_a_second(api: Api, pg: Any, drift: str) -> None:
    assert set(api.get(f"{T}/{drift}/1")[1]) == {"id", "label", "extra"}
    pg.execute(
        sql.SQL("ALTER TABLE {} ADD COLUMN added int DEFAULT 7").format(sql.Identifier(drift))
    )
    took = _until(lambda: api.get(f"{T}/{drift}/1"), lambda s, b: "added" in b)
    assert took < WITHIN
    # and it can be written and filtered on
    status, body = api.patch(f"{T}/{drift}/1", {"added": 8}, fields="added")
    assert (status, body) == (200, {"added": 8})
    assert api.get(f"{T}/{drift}", filter="added=8")[1]["resource"][0]["id"] == 1


def test_a_column_dropped_outside_is_no_error(api: Api, pg: Any, drift: str) -> None:
    assert api.get(f"{T}/{drift}/1")[0] == 200
    pg.execute(sql.SQL("ALTER TABLE {} DROP COLUMN extra").format(sql.Identifier(drift)))
    status, body = api.get(f"{T}/{drift}/1")  # at once: the read is retried on a fresh cache
    assert (status, body) == (200, {"id": 1, "label": "one"})
    status, body = api.get(f"{T}/{drift}", fields="extra")
    assert status == 400 and body["error"]["message"] == "Invalid field requested: extra"


def test_a_table_created_outside_is_served_on_its_first_request(api: Api, pg: Any) -> None:
    assert api.get(T)[0] == 200  # the schema cache is loaded
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    pg.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY)").format(sql.Identifier(name)))
    try:
        took = _until(lambda: api.get(f"{T}/{name}"), lambda s, b: s == 200)
        assert took < WITHIN
        assert name in api.get(T, as_list="true")[1]["resource"]
    finally:
        pg.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


def test_a_table_dropped_outside_answers_404_not_500(api: Api, pg: Any, drift: str) -> None:
    assert api.get(f"{T}/{drift}")[0] == 200
    pg.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(drift)))
    status, body = api.get(f"{T}/{drift}")
    assert status == 404, body
    assert body["error"]["message"] == f'Table "{drift}" does not exist in the database.'


def test_a_type_changed_outside_is_read_and_written_as_the_new_type(
    api: Api, pg: Any, drift: str
) -> None:
    assert api.get(f"{T}/{drift}/1")[0] == 200
    pg.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN label TYPE int USING 5").format(sql.Identifier(drift))
    )
    _until(lambda: api.get(f"{T}/{drift}/1"), lambda s, b: b.get("label") == 5)
    _until(
        lambda: api.patch(f"{T}/{drift}/1", {"label": "six"}),
        lambda s, b: s == 400 and "must be a valid integer" in str(b),
    )


def test_cached_reads_follow_an_outside_change(api: Api, pg: Any, drift: str, service: Any) -> None:
    service.cache_enabled = True
    service.cache_ttl = 600
    service.save()
    assert set(api.get(f"{T}/{drift}/1")[1]) == {"id", "label", "extra"}
    assert set(api.get(f"{T}/{drift}/1")[1]) == {"id", "label", "extra"}  # a hit now
    pg.execute(sql.SQL("ALTER TABLE {} ADD COLUMN added int").format(sql.Identifier(drift)))
    took = _until(lambda: api.get(f"{T}/{drift}/1"), lambda s, b: "added" in b)
    assert took < WITHIN


def test_a_function_created_outside_can_be_called(api: Api, pg: Any) -> None:
    name = f"fn_{uuid.uuid4().hex[:8]}"
    assert api.get("/api/v2/shop/_func")[0] == 200  # the routine catalog is loaded
    pg.execute(
        sql.SQL("CREATE FUNCTION {}() RETURNS int LANGUAGE sql AS 'SELECT 42'").format(
            sql.Identifier(name)
        )
    )
    try:
        _until(lambda: api.get(f"/api/v2/shop/_func/{name}"), lambda s, b: s == 200 and b == 42)
    finally:
        pg.execute(sql.SQL("DROP FUNCTION {}()").format(sql.Identifier(name)))
