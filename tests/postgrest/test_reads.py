"""Reads through `/rest/<service>/<table>` with the real PostgREST Python client (issue #14,
stage 1): select, filters, order, paging, Range/Content-Range, counts, one object, security."""

from __future__ import annotations

from typing import Any

import pytest
from postgrest import SyncPostgrestClient

from tests.postgrest.conftest import Rest, answers, caught_error

pytestmark = pytest.mark.slow


# --- select ---------------------------------------------------------------------------------


def test_select_star_returns_every_column_as_a_bare_array(rest: Rest) -> None:
    rows = rest.client().from_("customers").select("*").order("id").execute().data
    assert [r["name"] for r in rows] == ["Acme", "Globex", "Initech"]
    assert set(rows[0]) >= {"id", "name", "email", "country", "created_at"}


def test_select_columns_aliases_and_casts(rest: Rest) -> None:
    rows = (
        rest.client()
        .from_("orders")
        .select("id,amount:total,total_text:total::text,status")
        .order("id")
        .execute()
        .data
    )
    assert rows[0] == {"id": 1, "amount": 99.5, "total_text": "99.50", "status": "new"}
    assert list(rows[0]) == ["id", "amount", "total_text", "status"]  # the select's order


def test_malformed_select_is_400_pgrst100_with_the_position(rest: Rest) -> None:
    error = caught_error(lambda: rest.client().from_("customers").select("id,name::").execute())
    assert error.code == "PGRST100"
    assert "select" in (error.message or "") and "position" in str(error.details)


def test_unknown_column_in_select_is_400_42703(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").select("id,nope").execute())
    assert error.code == "42703" and seen[-1].status_code == 400


def test_grammar_not_served_yet_is_refused_not_dropped(rest: Rest) -> None:
    select = "id,...customers(name,orders(id))"  # an embedding inside a spread
    error = caught_error(lambda: rest.client().from_("orders").select(select).execute())
    assert error.code == "PGRST100" and "not supported" in str(error.details)


# --- filters --------------------------------------------------------------------------------


def _ids(builder: Any) -> list[int]:
    return [r["id"] for r in builder.order("id").execute().data]


def test_comparison_filters(rest: Rest) -> None:
    orders = rest.client().from_("orders")
    assert _ids(orders.select("id").eq("status", "new")) == [1, 3]
    assert _ids(orders.select("id").neq("status", "new")) == [2, 4]
    assert _ids(orders.select("id").gt("total", 99.5)) == [2]
    assert _ids(orders.select("id").gte("total", 99.5)) == [1, 2]
    assert _ids(orders.select("id").lt("total", 12.34)) == [4]
    assert _ids(orders.select("id").lte("total", 12.34)) == [3, 4]
    assert _ids(orders.select("id").gt("total", 10).lt("total", 100)) == [1, 3]  # ANDed


def test_like_and_ilike_with_postgrest_wildcards(rest: Rest) -> None:
    customers = rest.client().from_("customers")
    assert _ids(customers.select("id").like("name", "*ob*")) == [2]
    assert _ids(customers.select("id").like("name", "%ch")) == [3]
    assert _ids(customers.select("id").ilike("name", "a*")) == [1]
    assert _ids(customers.select("id").like("name", "a*")) == []


def test_in_and_is_filters(rest: Rest) -> None:
    orders = rest.client().from_("orders")
    assert _ids(orders.select("id").in_("status", ["new", "cancelled"])) == [1, 3, 4]
    assert _ids(orders.select("id").is_("customer_id", "null")) == [4]
    assert _ids(orders.select("id").in_("id", [])) == []
    todo = rest.client().from_("todo")
    assert _ids(todo.select("id").is_("complete", "true")) == [2, 5]
    assert _ids(todo.select("id").is_("complete", "false")) == [1, 4]


def test_not_negates_each_operator(rest: Rest) -> None:
    orders = rest.client().from_("orders")
    assert _ids(orders.select("id").not_.eq("status", "new")) == [2, 4]
    assert _ids(orders.select("id").not_.in_("status", ["new", "shipped"])) == [4]
    assert _ids(orders.select("id").not_.is_("customer_id", "null")) == [1, 2, 3]
    todo = rest.client().from_("todo")
    assert _ids(todo.select("id").not_.is_("complete", "true")) == [1, 3, 4]
    customers = rest.client().from_("customers")
    assert _ids(customers.select("id").not_.ilike("name", "*OB*")) == [1, 3]


def test_unknown_operator_is_400_pgrst100(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("orders").select("id").filter("id", "xyz", "1").execute()
        )
    assert error.code == "PGRST100" and seen[-1].status_code == 400
    assert "operator" in str(error.details)


def test_malformed_filter_is_400_pgrst100(rest: Rest) -> None:
    error = caught_error(
        lambda: rest.client().from_("orders").select("id").filter("id", "in", "1,2").execute()
    )
    assert error.code == "PGRST100" and "failed to parse filter" in (error.message or "")


def test_unknown_operator_modifier_is_refused(rest: Rest) -> None:
    error = caught_error(
        lambda: rest.client().from_("orders").select("id").filter("id", "eq(some)", "{1}").execute()
    )
    assert error.code == "PGRST100" and "any/all" in str(error.details)


def test_bad_value_for_the_column_is_a_400(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        caught_error(lambda: client.from_("orders").select("id").eq("id", "abc").execute())
    assert seen[-1].status_code == 400


# --- order and paging -----------------------------------------------------------------------


def test_order_with_direction_and_nulls(rest: Rest) -> None:
    orders = rest.client().from_("orders")
    rows = (
        orders.select("id").order("customer_id", desc=True, nullsfirst=True).order("id").execute()
    )
    assert [r["id"] for r in rows.data] == [4, 3, 1, 2]
    rows = orders.select("id").order("note", nullsfirst=False).order("id", desc=True).execute()
    assert [r["id"] for r in rows.data] == [1, 3, 4, 2]


def test_limit_and_offset_and_content_range(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        rows = client.from_("orders").select("id").order("id").limit(2).offset(1).execute()
    assert [r["id"] for r in rows.data] == [2, 3]
    assert seen[-1].headers["content-range"] == "1-2/*"


def test_range_header_and_exact_count(rest: Rest) -> None:
    client = rest.client(Range="0-1", **{"Range-Unit": "items"})
    with answers(client) as seen:
        result = client.from_("orders").select("id", count="exact").order("id").execute()
    assert [r["id"] for r in result.data] == [1, 2]
    assert result.count == 4
    assert seen[-1].headers["content-range"] == "0-1/4"
    assert seen[-1].status_code == 206


def test_empty_page_content_range(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        result = client.from_("orders").select("id", count="exact").eq("status", "none").execute()
    assert result.data == [] and result.count == 0
    assert seen[-1].headers["content-range"] == "*/0"


def test_invalid_range_is_416(rest: Rest) -> None:
    client = rest.client(Range="5-2")
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("orders").select("id").execute())
    assert error.code == "PGRST103" and seen[-1].status_code == 416


def test_head_answers_headers_only(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        result = client.from_("orders").select("id", count="exact", head=True).execute()
    assert seen[-1].request.method == "HEAD" and seen[-1].status_code in (200, 206)
    assert result.count == 4


# --- one object -----------------------------------------------------------------------------


def test_single_object(rest: Rest) -> None:
    row = rest.client().from_("customers").select("id,name").eq("id", 2).single().execute()
    assert row.data == {"id": 2, "name": "Globex"}


def test_reads_by_one_column_keep_answering_each_value(rest: Rest) -> None:
    """The second and later reads of one shape reuse its bound plan (gateway/postgrest/
    key_reads.py): every value still gets its own row, and a bad value its 400."""
    client = rest.client()
    names = {1: "Acme", 2: "Globex", 3: "Initech"}
    for _ in range(2):  # both server workers see the shape more than once
        for key, name in names.items():
            row = client.from_("customers").select("id,name").eq("id", key).single().execute()
            assert row.data == {"id": key, "name": name}
            rows = client.from_("customers").select("name").eq("id", key).execute().data
            assert rows == [{"name": name}]
    assert client.from_("customers").select("name").eq("id", 99).execute().data == []
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("customers").select("name").eq("id", "x").execute()
        )
    assert seen[-1].status_code == 400, error
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("customers").select("name").eq("id", 99).single().execute()
        )
    assert seen[-1].status_code == 406 and error.code == "PGRST116"


def test_single_object_with_two_rows_is_406_pgrst116(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("customers").select("id").eq("country", "US").single().execute()
        )
    assert error.code == "PGRST116" and seen[-1].status_code == 406
    assert "2 rows" in str(error.details)


# --- errors and security --------------------------------------------------------------------


def test_unknown_table_is_404_pgrst205(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("nope").select("*").execute())
    assert error.code == "PGRST205" and seen[-1].status_code == 404


def test_no_credentials_is_401(rest: Rest) -> None:
    client = rest.anonymous()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").select("*").execute())
    assert seen[-1].status_code == 401 and (error.code or "").startswith("PGRST30")


def test_app_key_reads_with_the_role_row_filter(rest: Rest) -> None:
    rows = rest.app_client().from_("customers").select("name,country").order("name").execute()
    assert rows.data == [{"name": "Acme", "country": "US"}, {"name": "Initech", "country": "US"}]


def test_dreamfactory_key_header_selects_the_app_too(rest: Rest) -> None:
    client = SyncPostgrestClient(rest.base_url, headers={"X-DreamFactory-Api-Key": rest.api_key})
    assert len(client.from_("orders").select("id").execute().data) == 4


def test_a_table_the_role_may_not_read_is_refused_as_on_api_v2(rest: Rest) -> None:
    client = rest.app_client()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("order_items").select("*").execute())
    v2_status, v2_body, _ = rest.server.call(
        "GET", "/api/v2/shop/_table/order_items", headers={"X-DreamFactory-Api-Key": rest.api_key}
    )
    assert seen[-1].status_code == v2_status and v2_status in (401, 403)
    assert error.message == v2_body["error"]["message"]
