"""GET /_table and /_table/{t}[/{id}]: listing, filters, fields, order, paging, ids, related."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"


def names(body: dict[str, Any], key: str = "name") -> list[Any]:
    return [r[key] for r in body["resource"]]


def test_table_list_merges_tables_and_views_sorted(api: Any) -> None:
    status, body = api.get(T)
    assert status == 200
    listed = names(body)
    assert listed == sorted(listed)
    assert {"customers", "orders", "big_orders", "Table With Space", 'quote"d'} <= set(listed)
    assert "secret" not in listed and "other.secret" not in listed  # other schema not served


def test_table_list_as_list_and_fields_star(api: Any) -> None:
    status, body = api.get(T, as_list="true")
    assert status == 200 and "customers" in body["resource"]
    status, body = api.get(T, fields="*", ids="big_orders,customers")
    assert status == 200
    assert [r["name"] for r in body["resource"]] == ["big_orders", "customers"]
    view = body["resource"][0]
    assert view["is_view"] is True and view["label"] == "Big Orders" and view["plural"]
    assert view["access"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]


def test_get_all_rows_in_column_order(api: Any) -> None:
    status, body = api.get(f"{T}/todo")
    assert status == 200
    assert body == {
        "resource": [
            {"id": 1, "name": "test1", "complete": False},
            {"id": 2, "name": "test2", "complete": True},
            {"id": 3, "name": "test3", "complete": None},
            {"id": 4, "name": "test4", "complete": False},
            {"id": 5, "name": "test5", "complete": True},
        ]
    }


def test_spec_example_filter_order_limit_count(api: Any) -> None:
    status, body = api.get(
        f"{T}/todo", filter="(complete=false)", order="name desc", limit=1, include_count="true"
    )
    assert status == 200
    assert body == {
        "resource": [{"id": 4, "name": "test4", "complete": False}],
        "meta": {"count": 2, "next": 1},
    }


def test_get_by_id_unwrapped_and_missing(api: Any) -> None:
    assert api.get(f"{T}/todo/2") == (200, {"id": 2, "name": "test2", "complete": True})
    status, body = api.get(f"{T}/todo/99")
    assert status == 404
    assert body["error"]["message"] == "Record with identifier '99' not found."
    status, body = api.get(f"{T}/todo/abc")
    assert status == 400
    assert body["error"]["message"] == "Field 'id' must be a valid integer."


def test_repeated_single_id_reads_answer_each_id(api: Any) -> None:
    """From the second read on, a table's GET-by-id reuses its plan (gateway/key_reads.py):
    every id still gets its own row, a bad one the same 400, and options take the full path."""
    from gateway import key_reads

    rows = [api.get(f"{T}/todo/{i}") for i in (1, 2, 3, 4, 5, 1)]
    assert [body["id"] for _, body in rows] == [1, 2, 3, 4, 5, 1]
    assert key_reads._remembered  # the plan was remembered
    assert api.get(f"{T}/todo/3", fields="name") == (200, {"name": "test3"})
    assert api.get(f"{T}/todo/0x1")[0] == 400
    assert api.get(f"{T}/todo/6")[0] == 404
    assert api.get(f"{T}/customers/1")[1]["id"] == 1  # another table, its own plan


def test_fields_subset_keeps_column_order(api: Any) -> None:
    status, body = api.get(f"{T}/customers", fields="email,name", filter="id=1")
    assert status == 200
    assert body["resource"] == [{"name": "Acme", "email": "acme@example.com"}]
    assert list(body["resource"][0]) == ["name", "email"]
    status, body = api.get(f"{T}/customers", select="name", filter="id=2")
    assert body["resource"] == [{"name": "Globex"}]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("name = 'test1'", [1]),
        ("name='test1'", [1]),
        ("name=test1", [1]),
        ("(complete = true) AND (id > 2)", [5]),
        ("(complete = true) OR (complete IS NULL)", [2, 3, 5]),
        ("NOT (complete = true)", [1, 4]),
        ("complete IS NULL", [3]),
        ("complete IS NOT NULL", [1, 2, 4, 5]),
        ("id IN (1, 3, 5)", [1, 3, 5]),
        ("id NOT IN (1,3,5)", [2, 4]),
        ("name LIKE 'test%'", [1, 2, 3, 4, 5]),
        ("name like '%3'", [3]),
        ("name CONTAINS 'st2'", [2]),
        ("name STARTS WITH 'test4'", [4]),
        ("name ENDS WITH '5'", [5]),
        ("id >= 4", [4, 5]),
        ("id <= 2", [1, 2]),
        ("id != 1 AND id < 4", [2, 3]),
        ("id <> 1 AND id lt 3", [2]),
        ("id GTE 5", [5]),
        ("id BETWEEN 2 AND 3", [2, 3]),
        ("(id = 1) OR ((id = 2) AND (complete = true))", [1, 2]),
        ("id = 1 OR id = 2 AND complete = false", [1]),
    ],
)
def test_filter_grammar_against_real_rows(api: Any, flt: str, expected: list[int]) -> None:
    from urllib.parse import quote

    status, body = api.get(f"{T}/todo", filter=quote(flt), order="id")
    assert status == 200, body
    assert names(body, "id") == expected


def test_filter_params_are_bound(api: Any) -> None:
    status, body = api.post(
        f"{T}/todo",
        {"filter": "name = :n", "params": {":n": "test2"}},
        headers={"X-HTTP-Method": "GET"},
    )
    assert status == 200, body
    assert names(body, "id") == [2]


def test_filter_with_escaped_quote_and_contains_wildcards_literal(api: Any, pg: Any) -> None:
    from urllib.parse import quote

    status, body = api.get(f"{T}/orders", filter=quote("note = 'it''s quoted'"))
    assert names(body, "id") == [3]
    pg.execute("INSERT INTO todo (name) VALUES ('50%_off')")
    status, body = api.get(f"{T}/todo", filter=quote("name contains '%_'"))
    assert names(body, "name") == ["50%_off"]


def test_order_several_columns_and_nulls(api: Any) -> None:
    status, body = api.get(f"{T}/orders", order="status asc, total desc", fields="id")
    assert names(body, "id") == [4, 1, 3, 2]
    status, body = api.get(f"{T}/orders", order="note desc nulls last, id", fields="id")
    assert names(body, "id") == [3, 1, 2, 4]
    status, body = api.get(f"{T}/orders", sort="id DESC", fields="id")
    assert names(body, "id") == [4, 3, 2, 1]


def test_limit_offset_and_meta_next(api: Any) -> None:
    status, body = api.get(f"{T}/todo", limit=2, offset=2, include_count="true", fields="id")
    assert body == {"resource": [{"id": 3}, {"id": 4}], "meta": {"count": 5, "next": 4}}
    status, body = api.get(f"{T}/todo", top=2, skip=4, fields="id")
    assert body == {"resource": [{"id": 5}]}


def test_max_records_caps_unbounded_reads_and_reports_truncation(api: Any, service: Any) -> None:
    service.max_records = 2
    service.save()
    status, body = api.get(f"{T}/todo", fields="id")
    assert body == {"resource": [{"id": 1}, {"id": 2}], "meta": {"count": 5, "next": 2}}
    status, body = api.get(f"{T}/todo", fields="id", limit=500)  # above the max: capped
    assert [r["id"] for r in body["resource"]] == [1, 2]
    status, body = api.get(f"{T}/todo", fields="id", limit=2)  # valid limit: no count
    assert body == {"resource": [{"id": 1}, {"id": 2}]}


def test_count_only_is_a_bare_number(api: Any) -> None:
    status, body = api.get(f"{T}/todo", count_only="true", filter="complete=true")
    assert (status, body) == (200, 2)


def test_ids_in_requested_order_and_missing_id_batch_error(api: Any) -> None:
    status, body = api.get(f"{T}/todo", ids="3,1", fields="id,name")
    assert body == {"resource": [{"id": 3, "name": "test3"}, {"id": 1, "name": "test1"}]}
    status, body = api.get(f"{T}/todo", ids="1,99,2")
    assert status == 400
    err = body["error"]
    assert err["code"] == 1000
    assert err["message"] == "Batch Error: Not all requested records could be retrieved."
    assert err["context"]["error"] == [1]
    assert err["context"]["resource"][1]["message"] == "Record with identifier '99' not found."
    assert len(err["context"]["resource"]) == 2  # stops at the first missing id


def test_id_field_addresses_another_unique_column(api: Any) -> None:
    status, body = api.get(f"{T}/todo/test4", id_field="name")
    assert body == {"id": 4, "name": "test4", "complete": False}
    status, body = api.get(f"{T}/no_pk/2", id_field="a")
    assert body == {"a": 2, "b": "two"}


def test_as_list_returns_identifiers(api: Any) -> None:
    status, body = api.get(f"{T}/todo", as_list="true", filter="complete=true")
    assert body == {"resource": [2, 5]}
    status, body = api.get(f"{T}/line_keys", as_list="true", order="order_no,line_no")
    assert body == {"resource": ["(1,1)", "(1,2)", "(2,1)"]}


def test_related_belongs_to_has_many_and_has_one(api: Any) -> None:
    status, body = api.get(
        f"{T}/orders",
        related="customers_by_customer_id,order_items_by_order_id",
        fields="id,total",
        order="id",
    )
    assert status == 200, body
    first, fourth = body["resource"][0], body["resource"][3]
    assert first["customers_by_customer_id"]["name"] == "Acme"
    assert first["customer_id"] == 1  # the join key is added to the output
    assert [i["sku"] for i in first["order_items_by_order_id"]] == ["A1", "B2"]
    assert fourth["customers_by_customer_id"] is None
    assert fourth["order_items_by_order_id"] == []
    status, body = api.get(f"{T}/customers", related="profiles_by_customer_id", order="id")
    assert body["resource"][0]["profiles_by_customer_id"] == {
        "customer_id": 1,
        "bio": "Makes everything",
    }
    assert body["resource"][1]["profiles_by_customer_id"] == []  # has_one without a match


def test_related_star_options_and_unknown(api: Any) -> None:
    status, body = api.get(
        f"{T}/customers/1",
        related="*",
        **{"orders_by_customer_id.fields": "id", "orders_by_customer_id.order": "id desc"},
    )
    assert status == 200, body
    assert body["orders_by_customer_id"] == [{"id": 2}, {"id": 1}]
    assert "profiles_by_customer_id" in body
    status, body = api.get(f"{T}/customers", related="nope")
    assert status == 400 and "nope" in body["error"]["message"]


def test_views_are_readable(api: Any) -> None:
    status, body = api.get(f"{T}/big_orders")
    assert status == 200
    assert body["resource"] == [{"id": 2, "customer_id": 1, "total": 250.00}]


def test_composite_key_lookup_by_records(api: Any) -> None:
    status, body = api.post(
        f"{T}/line_keys",
        {"resource": [{"order_no": 1, "line_no": 2}, {"order_no": 2, "line_no": 1}]},
        headers={"X-HTTP-Method": "GET"},
    )
    assert status == 200, body
    assert [r["item"] for r in body["resource"]] == ["pear", "plum"]


def test_table_names_are_case_insensitive(api: Any) -> None:
    status, body = api.get(f"{T}/TODO/1")
    assert status == 200 and body["name"] == "test1"
    status, body = api.get(f"{T}/mixedcase", fields="mixedcol")
    assert body["resource"] == [{"MixedCol": 7}]


def test_refresh_rereads_the_schema(api: Any, pg: Any) -> None:
    assert api.get(f"{T}/late_table")[0] == 404
    pg.execute("CREATE TABLE late_table (id serial primary key)")
    try:
        # a name the cache does not know makes it look at the database again (issue #10)
        assert api.get(f"{T}/late_table")[0] == 200
        assert api.get(f"{T}/late_table", refresh="true")[0] == 200
    finally:
        pg.execute("DROP TABLE late_table")


def test_embedded_lists_are_compact_json(api: Any) -> None:
    response = api.client.get(
        f"{T}/orders?related=order_items_by_order_id&filter=id%3D1", headers=api.headers
    )
    assert response.status_code == 200
    assert b"\n" not in response.content and b", " not in response.content


def test_percent_signs_in_names_read_and_write(api: Any, pg: Any) -> None:
    """psycopg reads `%` as a placeholder even inside a quoted name: such tables still work."""
    pg.execute('CREATE TABLE "50% off" (id serial primary key, "discount %" int, "a%sb" text)')
    table = f"{T}/50%25%20off"
    try:
        status, body = api.post(table, {"resource": [{"discount %": 10, "a%sb": "x"}]})
        assert status == 200, body
        (new_id,) = [r["id"] for r in body["resource"]]
        many = [{"discount %": n, "a%sb": f"r{n}"} for n in range(40)]  # the COPY path
        assert api.post(table, {"resource": many})[0] == 200
        status, body = api.get(table, filter='("discount %" = 10)', fields="a%sb")
        assert status == 200, body
        assert body["resource"] == [{"a%sb": "x"}, {"a%sb": "r10"}]
        status, body = api.patch(f"{table}/{new_id}", {"discount %": 11})
        assert status == 200, body
        assert api.get(f"{table}/{new_id}")[1]["discount %"] == 11
        status, body = api.get(table, group="a%sb", fields="a%sb,COUNT(discount %)", limit="1")
        assert status == 200, body
        assert api.delete(f"{table}/{new_id}")[0] == 200
        assert api.get(table, include_count="true", limit="1")[1]["meta"]["count"] == 40
    finally:
        pg.execute('DROP TABLE "50% off"')
