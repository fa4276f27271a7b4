"""JSON paths (`col->key->>key`) in select, filters and order through `/rest/<service>/` with
the real PostgREST client (issue #14), on json and jsonb columns only."""

from __future__ import annotations

import pytest

from tests.postgrest.conftest import Rest, caught_error

pytestmark = pytest.mark.slow


def test_select_path_is_named_by_its_last_key(rest: Rest) -> None:
    rows = (
        rest.client()
        .from_("pgrst_events")
        .select("id, data->who->>name, data->n, first:data->tags->0, doc->>v")
        .order("id")
        .execute()
        .data
    )
    assert rows[0] == {"id": 1, "name": "ann", "n": 10, "first": "a", "v": "1"}
    assert rows[2]["first"] is None  # an index past the end
    assert rows[3] == {"id": 4, "name": None, "n": None, "first": None, "v": None}


def test_select_path_with_a_cast(rest: Rest) -> None:
    rows = rest.client().from_("pgrst_events").select("id, n:data->>n::int").order("id")
    assert [r["n"] for r in rows.execute().data] == [10, 9, 30, None]


def test_filter_on_a_path(rest: Rest) -> None:
    def ids(column: str, op: str, value: str) -> list[int]:
        query = rest.client().from_("pgrst_events").select("id").filter(column, op, value)
        return [r["id"] for r in query.order("id").execute().data]

    assert ids("data->>kind", "eq", "sale") == [2, 3]
    assert ids("data->who->>name", "like", "*n*") == [1]
    assert ids("data->n", "gt", "9") == [1, 3]  # `->`: compared as JSON (numbers, not text)
    assert ids("data->>kind", "in", "(user,none)") == [1]
    assert ids("data->>kind", "is", "null") == [4]
    assert ids("doc->>v", "eq", "2") == [2]


def test_order_by_a_path(rest: Rest) -> None:
    def order(spec: str) -> list[int]:
        rows = rest.client().from_("pgrst_events").select("id")
        rows.request.params = rows.request.params.add("order", spec)
        return [r["id"] for r in rows.execute().data]

    assert order("data->n.desc.nullslast") == [3, 1, 2, 4]
    assert order("data->who->>name.desc.nullsfirst,id") == [4, 3, 2, 1]


def test_path_on_a_column_that_is_not_json_is_a_400(rest: Rest) -> None:
    for run in (
        lambda: rest.client().from_("pgrst_events").select("label->>x").execute(),
        lambda: rest.client().from_("pgrst_events").select("id").eq("label->>x", "1").execute(),
        lambda: rest.client().from_("pgrst_events").select("id").order("label->>x").execute(),
    ):
        error = caught_error(run)
        assert error.code == "PGRST100" and "not a json or jsonb column" in error.message


def test_malformed_path_is_400_pgrst100(rest: Rest) -> None:
    error = caught_error(
        lambda: rest.client().from_("pgrst_events").select("data->>a->b").execute()
    )
    assert error.code == "PGRST100" and "position" in str(error.details)
