"""Numbers PostgreSQL writes go out through `/rest/` exactly as it wrote them (as on `/api/v2`):
one object or an array, never rounded through a float, never a 500 for a numeric beyond
a double's range."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.postgrest.conftest import Rest

pytestmark = pytest.mark.slow

HUGE = "1" + "0" * 400  # a numeric no double can hold
PRECISE = "12345678901234567890.1234567890"


@pytest.fixture(scope="module")
def number_row(rest: Rest, fixture_db: dict[str, Any]) -> int:
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO all_types (num, num_scaled) VALUES (%s::numeric, %s::numeric)"
            " RETURNING id",
            (HUGE, PRECISE),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _get(rest: Rest, row_id: int, accept: str) -> httpx.Response:
    return httpx.get(
        f"{rest.base_url}/all_types",
        params={"select": "id,num,num_scaled", "id": f"eq.{row_id}"},
        headers={"Authorization": f"Bearer {rest.admin_token}", "Accept": accept},
    )


def test_one_object_keeps_postgresql_numbers_exactly(rest: Rest, number_row: int) -> None:
    answer = _get(rest, number_row, "application/vnd.pgrst.object+json")
    assert answer.status_code == 200, answer.text
    assert f'"num":{HUGE},' in answer.text and f'"num_scaled":{PRECISE}' in answer.text
    assert answer.headers["content-range"] == "0-0/*"


def test_array_with_a_huge_numeric_is_answered(rest: Rest, number_row: int) -> None:
    answer = _get(rest, number_row, "application/json")
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("[{") and f'"num":{HUGE},' in answer.text
    assert answer.headers["content-range"] == "0-0/*"


def test_same_bytes_as_api_v2(rest: Rest, number_row: int) -> None:
    one = _get(rest, number_row, "application/vnd.pgrst.object+json")
    v2 = httpx.get(
        f"http://127.0.0.1:{rest.server.port}/api/v2/shop/_table/all_types/{number_row}",
        params={"fields": "id,num,num_scaled"},
        headers={"X-DreamFactory-Session-Token": rest.admin_token},
    )
    assert v2.status_code == 200, v2.text
    assert one.content == v2.content
