"""Read options DreamFactory clients send: `as_list` with `fields`, `having` with `group`, and
`limit`/`offset`/`max_records` on the rows of set-returning functions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import Api, assert_error

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
F = "/api/v2/shop/_func"


def q(text: str) -> str:
    return quote(text, safe="")


# --- as_list ------------------------------------------------------------------------------


def test_as_list_answers_the_identifiers_whatever_fields_selects(api: Api) -> None:
    status, body = api.get(f"{T}/todo", as_list="true", fields="name", order="id")
    assert status == 200, body
    assert body == {"resource": [1, 2, 3, 4, 5]}
    status, body = api.get(f"{T}/todo", as_list="true", order="id", filter=q("complete = true"))
    assert body == {"resource": [2, 5]}


def test_as_list_with_id_field_answers_that_fields_values(api: Api) -> None:
    status, body = api.get(
        f"{T}/todo", as_list="true", fields="complete", id_field="name", order="id", limit=3
    )
    assert status == 200, body
    assert body["resource"] == ["test1", "test2", "test3"]


def test_as_list_of_a_composite_key(api: Api) -> None:
    status, body = api.get(f"{T}/line_keys", as_list="true", fields="item")
    assert status == 200, body
    assert sorted(body["resource"]) == ["(1,1)", "(1,2)", "(2,1)"]


# --- having -------------------------------------------------------------------------------


def test_having_keeps_the_groups_that_match(api: Api) -> None:
    # customer 1 has two orders, customer 2 one, and one order has no customer
    status, body = api.get(
        f"{T}/orders",
        group="customer_id",
        fields=q("customer_id,COUNT(*)"),
        having=q("COUNT(*) > 1"),
    )
    assert status == 200, body
    assert body == {"resource": [{"customer_id": 1, "COUNT_ALL": 2}]}


def test_having_on_an_aggregate_not_in_fields_and_by_output_name(api: Api) -> None:
    status, body = api.get(
        f"{T}/orders",
        group="status",
        fields="status",
        having=q("(SUM(total) >= 100 OR COUNT_ALL > 1) AND status != 'cancelled'"),
        order="status",
    )
    assert status == 200, body
    assert body["resource"] == [{"status": "new"}, {"status": "shipped"}]


def test_having_values_are_bound_and_counts_follow_it(api: Api, pg: Any) -> None:
    status, body = api.get(
        f"{T}/orders",
        group="status",
        fields=q("status,COUNT(*)"),
        having=q("status = 'x'' OR 1=1 --'"),
        include_count="true",
    )
    assert status == 200, body
    assert body == {"resource": [], "meta": {"count": 0}}
    status, body = api.get(
        f"{T}/orders",
        group="status",
        fields="status",
        having=q("MAX(total) between 10 and 100"),
        include_count="true",
        order="status",
    )
    assert body == {"resource": [{"status": "new"}], "meta": {"count": 1}}
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (4,)


def test_having_with_a_params_placeholder(api: Api) -> None:
    # DF's way to send `params`: in a body, the GET tunnelled through POST
    status, body = api.post(
        f"{T}/orders",
        {"group": "customer_id", "fields": "customer_id", "having": "count(*) >= :n",
         "params": {":n": 2}},
        headers={"X-HTTP-Method": "GET"},
    )  # fmt: skip
    assert status == 200, body
    assert body["resource"] == [{"customer_id": 1}]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"having": "COUNT(*) > 1"}, "'having' requires a 'group' parameter."),
        (
            {"group": "status", "having": "nope > 1"},
            "Invalid having clause: unknown field or aggregate 'nope'.",
        ),
        (
            {"group": "status", "having": "note = 'a'"},
            "Invalid having clause: field 'note' must be in the group by clause or used in an"
            " aggregate.",
        ),
        (
            {"group": "status", "having": "SUM(status) > 1"},
            "Invalid having clause: SUM(status); SUM needs a numeric field.",
        ),
        (
            {"group": "status", "having": "COUNT(*) > 'many'"},
            "Invalid having clause:",
        ),
        (
            {"group": "status", "having": "status like 'n%'"},
            "Invalid having clause: the operator 'like' is not supported in having.",
        ),
        ({"group": "status", "having": "COUNT(*) >"}, "Invalid having clause:"),
        (
            {"group": "status", "having": "COUNT(*) > 1; DROP TABLE orders"},
            "Invalid having clause:",
        ),
    ],
)
def test_bad_having_is_a_clear_400(api: Api, params: dict[str, str], message: str) -> None:
    status, body = api.get(f"{T}/orders", **{k: q(v) for k, v in params.items()})
    assert_error(status, body, 400, message, prefix=message.endswith(":"))


# --- rows of set-returning functions ---------------------------------------------------------


def test_function_rows_honour_limit_and_offset(api: Api) -> None:
    status, body = api.get(f"{F}/countdown", p_from=10, limit=3)
    assert status == 200, body
    assert body == [{"countdown": 10}, {"countdown": 9}, {"countdown": 8}]
    status, body = api.get(f"{F}/countdown", p_from=10, limit=2, offset=5)
    assert body == [{"countdown": 5}, {"countdown": 4}]
    # in the body of a POST call too, with DF's aliases
    status, body = api.post(
        f"{F}/orders_by_status", {"params": {"p_status": "new"}, "top": 1, "skip": 1}
    )
    assert status == 200, body
    assert [r["id"] for r in body] == [3]


def test_function_rows_are_capped_by_max_records(api: Api, service: Any) -> None:
    service.max_records = 4
    service.save()
    status, body = api.get(f"{F}/countdown", p_from=10)
    assert [r["countdown"] for r in body] == [10, 9, 8, 7]
    status, body = api.get(f"{F}/countdown", p_from=10, limit=50)  # above the maximum
    assert len(body) == 4
    status, body = api.get(f"{F}/countdown", p_from=10, limit=2, wrapper="rows")
    assert body == {"rows": [{"countdown": 10}, {"countdown": 9}]}
    # a scalar function is not paged
    status, body = api.get(f"{F}/add_numbers", a=2, b=3, limit=1)
    assert body == 5


def test_function_bad_offset_is_a_400(api: Api) -> None:
    status, body = api.get(f"{F}/countdown", p_from=3, offset=-1)
    assert_error(status, body, 400, "offset must be 0 or more (the rows to skip), not -1.")


def test_having_applies_to_streamed_groups_too(api: Api) -> None:
    query = "group=customer_id&fields=customer_id&having=" + q('SUM("total") > 50')
    client: Any = api.client  # a streamed answer
    response = client.get(f"{T}/orders?{query}&format=ndjson", headers=api.headers)
    assert response.status_code == 200, response.content
    lines = b"".join(response.streaming_content).decode().split()
    assert lines == ['{"customer_id":1}']


def test_as_list_by_ids_and_on_writes(api: Api, pg: Any) -> None:
    status, body = api.get(f"{T}/todo", ids="3,1", as_list="true", fields="name")
    assert (status, body) == (200, {"resource": [3, 1]})
    status, body = api.post(f"{T}/todo", [{"name": "new one"}], as_list="true", fields="name")
    assert status == 200, body
    new_id = pg.execute("SELECT id FROM todo WHERE name = 'new one'").fetchone()[0]
    assert body == {"resource": [new_id]}
