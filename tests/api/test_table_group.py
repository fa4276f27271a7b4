"""GET /_table/{t} with `group` and aggregates in `fields`; `include_schema` (spec §3.2, §3.4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import orjson
import pytest

pytestmark = pytest.mark.django_db

ORDERS = "/api/v2/shop/_table/orders"


def get(api: Any, **query: str) -> tuple[int, Any]:
    return api.get(ORDERS, **{k: quote(v) for k, v in query.items()})


def by_status(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["status"]: r for r in body["resource"]}


def test_group_count_and_sum_exact(api: Any) -> None:
    status, body = get(api, group="status", fields="status,COUNT(*),SUM(total)")
    assert status == 200, body
    assert by_status(body) == {
        "new": {"status": "new", "COUNT_ALL": 2, "SUM_total": 111.84},
        "shipped": {"status": "shipped", "COUNT_ALL": 1, "SUM_total": 250.00},
        "cancelled": {"status": "cancelled", "COUNT_ALL": 1, "SUM_total": 5.00},
    }
    assert "meta" not in body


def test_group_sum_is_an_exact_json_number(api: Any) -> None:
    response = api.client.get(
        ORDERS,
        {"group": "status", "fields": "status,SUM(total)", "filter": "status='new'"},
        headers=api.headers,
    )
    assert response.status_code == 200
    parsed = orjson.loads(response.content.replace(b"111.84", b'"111.84"'))
    assert parsed["resource"] == [{"status": "new", "SUM_total": "111.84"}]
    assert Decimal(parsed["resource"][0]["SUM_total"]) == Decimal("111.84")


def test_group_alias_and_case_insensitive_aggregates(api: Any) -> None:
    status, body = get(api, group_by="status", select="status,count(*),sum(total)")
    assert status == 200, body
    assert by_status(body)["new"] == {"status": "new", "COUNT_ALL": 2, "SUM_total": 111.84}


def test_group_without_fields_returns_the_group_columns(api: Any) -> None:
    status, body = get(api, group="status", order="status")
    assert status == 200, body
    assert body == {"resource": [{"status": "cancelled"}, {"status": "new"}, {"status": "shipped"}]}
    status, star = get(api, group="status", order="status", fields="*")
    assert status == 200 and star == body


def test_group_with_filter(api: Any) -> None:
    status, body = get(
        api, group="status", fields="status,COUNT(*),SUM(total)", filter="total > 10"
    )
    assert status == 200, body
    assert by_status(body) == {
        "new": {"status": "new", "COUNT_ALL": 2, "SUM_total": 111.84},
        "shipped": {"status": "shipped", "COUNT_ALL": 1, "SUM_total": 250.00},
    }


def test_group_order_by_aggregate_desc(api: Any) -> None:
    status, body = get(api, group="status", fields="status,SUM(total)", order="SUM_total desc")
    assert status == 200, body
    assert [r["status"] for r in body["resource"]] == ["shipped", "new", "cancelled"]
    # the aggregate expression itself works too, and so does a group column
    status, body = get(api, group="status", fields="status,COUNT(*)", order="COUNT(*) desc,status")
    assert status == 200, body
    assert [r["status"] for r in body["resource"]] == ["new", "cancelled", "shipped"]


def test_group_limit_offset_and_include_count(api: Any) -> None:
    status, body = get(
        api,
        group="status",
        fields="status,COUNT(*)",
        order="status",
        limit="2",
        include_count="true",
    )
    assert status == 200, body
    assert body == {
        "resource": [{"status": "cancelled", "COUNT_ALL": 1}, {"status": "new", "COUNT_ALL": 2}],
        "meta": {"count": 3, "next": 2},
    }
    status, body = get(api, group="status", order="status", limit="2", offset="2")
    assert status == 200 and body == {"resource": [{"status": "shipped"}]}
    status, body = get(api, group="status", count_only="true", filter="total > 10")
    assert status == 200 and body == 2


def test_group_by_several_columns(api: Any) -> None:
    status, body = get(
        api,
        group="customer_id,status",
        fields="customer_id,status,COUNT(*)",
        order="customer_id nulls last,status",
    )
    assert status == 200, body
    assert body["resource"] == [
        {"customer_id": 1, "status": "new", "COUNT_ALL": 1},
        {"customer_id": 1, "status": "shipped", "COUNT_ALL": 1},
        {"customer_id": 2, "status": "new", "COUNT_ALL": 1},
        {"customer_id": None, "status": "cancelled", "COUNT_ALL": 1},
    ]


def test_min_max_avg(api: Any) -> None:
    status, body = get(api, group="status", fields="status,MIN(total),MAX(total),AVG(total)")
    assert status == 200, body
    new = by_status(body)["new"]
    assert new["MIN_total"] == 12.34 and new["MAX_total"] == 99.50
    assert Decimal(str(new["AVG_total"])) == Decimal("55.92")
    # MIN/MAX work on text; aggregates alone (no plain fields) are allowed
    status, body = get(api, group="customer_id", fields="MAX(status)", order="MAX_status")
    assert status == 200, body
    assert body["resource"] == [
        {"MAX_status": "cancelled"},
        {"MAX_status": "new"},
        {"MAX_status": "shipped"},
    ]


def test_unknown_group_field(api: Any) -> None:
    status, body = get(api, group="status,nope", fields="status")
    assert status == 400
    assert body["error"]["message"] == "Invalid or unknown field 'nope' in group by clause."


def test_aggregate_of_unknown_column(api: Any) -> None:
    status, body = get(api, group="status", fields="status,SUM(nope)")
    assert status == 400
    assert "SUM(nope)" in body["error"]["message"]


def test_sum_of_text_column_is_a_400(api: Any) -> None:
    status, body = get(api, group="status", fields="status,SUM(note)")
    assert status == 400
    assert "SUM(note)" in body["error"]["message"]


def test_non_grouped_column_in_fields(api: Any) -> None:
    status, body = get(api, group="status", fields="status,note,COUNT(*)")
    assert status == 400
    assert "'note'" in body["error"]["message"]


def test_order_by_non_grouped_column(api: Any) -> None:
    status, body = get(api, group="status", fields="status", order="note")
    assert status == 400
    assert body["error"]["message"] == "Invalid field 'note' in order by clause."


def test_aggregate_without_group(api: Any) -> None:
    status, body = get(api, fields="status,COUNT(*)")
    assert status == 400
    assert "group" in body["error"]["message"]


@pytest.mark.parametrize(
    "fields",
    [
        "status,SUM(total);DROP TABLE orders",
        "status,count(*) from orders--",
        "status,SUM(total) AS x",
        "status,sum(total)) FROM orders; --(",
        "status,SUM(pg_sleep(1))",
        "status,SUM(*)",
        "status,lower(status)",
    ],
)
def test_injection_attempts_are_400_and_the_table_is_intact(api: Any, fields: str) -> None:
    status, body = get(api, group="status", fields=fields)
    assert status == 400, body
    status, body = get(api, group=fields)
    assert status == 400, body
    status, body = get(api, group="status", fields="status", order=fields.split(",")[1])
    assert status == 400, body
    status, body = api.get(ORDERS, include_count="true")
    assert status == 200 and body["meta"]["count"] == 4


def test_group_refuses_related_and_ids(api: Any) -> None:
    status, body = get(api, group="status", related="*")
    assert status == 400 and "'group'" in body["error"]["message"]
    status, body = get(api, group="status", ids="1,2")
    assert status == 400 and "'group'" in body["error"]["message"]


def test_include_schema(api: Any) -> None:
    status, body = get(api, include_schema="true", limit="1")
    assert status == 200, body
    assert len(body["resource"]) == 1
    schema = body["meta"]["schema"]
    assert schema["name"] == "orders"
    assert [f["name"] for f in schema["field"]] == ["id", "customer_id", "total", "status", "note"]
    status, described = api.get("/api/v2/shop/_schema/orders")
    assert status == 200
    assert schema == described


def test_include_schema_with_include_count(api: Any) -> None:
    status, body = get(api, include_schema="true", include_count="true", limit="2")
    assert status == 200, body
    meta = body["meta"]
    assert meta["count"] == 4 and meta["next"] == 2
    assert meta["schema"]["name"] == "orders"


def test_include_schema_on_a_grouped_read(api: Any) -> None:
    status, body = get(
        api, group="status", fields="status,COUNT(*)", include_schema="true", include_count="1"
    )
    assert status == 200, body
    assert body["meta"]["count"] == 3 and body["meta"]["schema"]["name"] == "orders"
