"""Role row filters (spec §8.4): ANDed into every read and write, checked on every written row.

The clerk may touch only customer 1's orders (`customer_id = 1`) and only the customer whose
email is their own (`email = {user.email}`). Escape attempts (moving a row out of the filter,
widening it with a client filter, forcing deletes, bulk creates, upserts, streams) must fail
and change nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core.verbs import ALL_VERBS, GET
from services.models import Service
from tests.conftest import assign_role, client_for, login, make_app, make_role, make_user

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
ORDERS = f"{T}/orders"
PASSWORD = "user-password-123"
DENIED = "Denied access to some of the requested fields."


def _orders(pg: Any) -> list[tuple[Any, ...]]:
    query = "SELECT id, customer_id, total, status, note FROM orders ORDER BY id"
    return pg.execute(query).fetchall()


def _clerk_rules(service: Any) -> list[dict[str, Any]]:
    return [
        {
            "service": service,
            "component": "_table/orders/*",
            "verb_mask": ALL_VERBS,
            "filters": [{"name": "customer_id", "operator": "=", "value": "1"}],
        },
        {
            "service": service,
            "component": "_table/customers/*",
            "verb_mask": ALL_VERBS,
            "filters": [{"name": "email", "operator": "=", "value": "{user.email}"}],
        },
    ]


@pytest.fixture
def clerk(service: Any) -> Any:
    """A client for acme@example.com, whose role is the clerk's."""
    role = make_role("clerk", _clerk_rules(service))
    app, key = make_app("shop app", role)
    assign_role(make_user("acme@example.com", PASSWORD), app, role)
    return client_for(key, login("acme@example.com", PASSWORD, key))


def test_a_patch_that_moves_a_row_out_of_the_filter_is_refused(clerk: Any, pg: Any) -> None:
    before = _orders(pg)
    status, body = clerk.patch(f"{ORDERS}/1", {"customer_id": 2})
    assert (status, body["error"]["message"]) == (403, DENIED)
    status, body = clerk.put(f"{ORDERS}/1", {"customer_id": None})  # NULL is outside too
    assert (status, body["error"]["message"]) == (403, DENIED)
    assert _orders(pg) == before


def test_a_batch_that_moves_rows_out_stops_and_says_what_was_written(clerk: Any, pg: Any) -> None:
    before = _orders(pg)
    records = {"resource": [{"id": 1, "note": "kept"}, {"id": 2, "customer_id": 2}]}
    status, body = clerk.patch(ORDERS, records, rollback="true")
    assert status == 400
    assert body["error"]["context"]["error"] == [1]
    assert body["error"]["context"]["resource"][1]["message"] == DENIED
    assert body["error"]["context"]["written"] == []
    assert _orders(pg) == before
    status, body = clerk.patch(ORDERS, records)  # default mode: record 0 stays written
    assert status == 400
    assert body["error"]["context"]["written"] == [0]
    assert [r[4] for r in _orders(pg)][:2] == ["kept", None]
    assert [r[1] for r in _orders(pg)][:2] == [1, 1]


def test_a_patch_by_filter_cannot_move_rows_out(clerk: Any, pg: Any) -> None:
    before = _orders(pg)
    status, body = clerk.patch(ORDERS, [{"customer_id": 2}], filter="status%20%3D%20'new'")
    assert (status, body["error"]["message"]) == (403, DENIED)
    assert _orders(pg) == before
    status, body = clerk.patch(ORDERS, [{"note": "seen"}], filter="id%20%3E%200")
    assert status == 200
    assert [r["id"] for r in body["resource"]] == [1, 2]  # never order 3 or 4
    assert [r[4] for r in _orders(pg)] == ["seen", "seen", "it's quoted", None]


def test_a_client_filter_cannot_widen_the_roles(clerk: Any) -> None:
    for text in (
        "(customer_id = 2) OR (customer_id = 1)",
        "customer_id != 1",
        "(id > 0) OR (id < 0)",
        "customer_id IS NULL",
    ):
        status, body = clerk.get(ORDERS, filter=text.replace(" ", "%20"), fields="customer_id")
        assert status == 200
        assert {r["customer_id"] for r in body["resource"]} <= {1}, text
    status, body = clerk.get(ORDERS, count_only="true")
    assert (status, body) == (200, 2)
    status, body = clerk.get(ORDERS, include_count="true", limit="1")
    assert body["meta"]["count"] == 2
    status, body = clerk.get(ORDERS, group="customer_id", fields="customer_id,COUNT(*)")
    assert body["resource"] == [{"customer_id": 1, "COUNT_ALL": 2}]


def test_deletes_stay_inside_the_filter(clerk: Any, pg: Any) -> None:
    status, body = clerk.delete(ORDERS, ids="1,3")
    assert status == 400  # order 3 "does not exist" for this role
    assert [r[0] for r in _orders(pg)] == [2, 3, 4]  # the default batch kept order 1's delete
    status, body = clerk.delete(ORDERS, filter="id%20%3E%200")
    assert (status, [r["id"] for r in body["resource"]]) == (200, [2])
    status, body = clerk.delete(ORDERS, force="true")
    assert (status, body) == (200, {"success": True})
    assert [r[0] for r in _orders(pg)] == [3, 4]


def test_creates_must_satisfy_the_filter_in_bulk_too(clerk: Any, pg: Any) -> None:
    before = _orders(pg)
    rows = [{"customer_id": 1, "total": n} for n in range(40)]  # long enough for COPY chunks
    rows[25] = {"customer_id": 2, "total": 25}
    status, body = clerk.post(ORDERS, rows, rollback="true")
    assert status == 400
    assert body["error"]["context"]["error"] == [25]
    assert body["error"]["context"]["resource"][25]["message"] == DENIED
    assert _orders(pg) == before
    status, body = clerk.post(ORDERS, rows)  # default mode: the first 25 stay written
    assert status == 400
    assert body["error"]["context"]["written"] == list(range(25))
    assert len(_orders(pg)) == len(before) + 25
    status, body = clerk.post(ORDERS, rows[:25], fields="customer_id")
    assert status == 200
    assert {r["customer_id"] for r in body["resource"]} == {1}


def test_upserts_cannot_take_over_or_create_rows_outside(
    clerk: Any, service: Service, pg: Any
) -> None:
    service.allow_upsert = True
    service.save()
    before = _orders(pg)
    status, body = clerk.put(f"{ORDERS}/3", {"note": "taken over"})  # Globex's order
    assert status == 404
    status, body = clerk.put(f"{ORDERS}/99", {"customer_id": 2, "total": 1})
    assert (status, body["error"]["message"]) == (403, DENIED)
    assert _orders(pg) == before
    status, body = clerk.put(f"{ORDERS}/99", {"customer_id": 1, "total": 1})
    assert (status, body) == (200, {"id": 99})


def test_streams_and_related_rows_are_filtered(clerk: Any) -> None:
    response = clerk.client.get(
        f"{ORDERS}?format=ndjson", headers={**clerk.headers, "Accept": "application/x-ndjson"}
    )
    assert response.status_code == 200
    rows = [orjson.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert {r["customer_id"] for r in rows} == {1}
    status, body = clerk.get(f"{T}/customers", related="orders_by_customer_id")
    assert status == 200
    assert [c["name"] for c in body["resource"]] == ["Acme"]
    assert [o["id"] for o in body["resource"][0]["orders_by_customer_id"]] == [1, 2]


def test_related_rows_get_the_filter_of_their_own_table(service: Any) -> None:
    role = make_role(
        "new orders",
        [
            {"service": service, "component": "_table/customers/*", "verb_mask": GET},
            {
                "service": service,
                "component": "_table/orders/*",
                "verb_mask": GET,
                "filters": [{"name": "status", "operator": "=", "value": "'new'"}],
            },
        ],
    )
    _app, key = make_app("reader app", role)
    status, body = client_for(key).get(f"{T}/customers/1", related="orders_by_customer_id")
    assert status == 200
    assert [o["id"] for o in body["orders_by_customer_id"]] == [1]  # order 2 is 'shipped'


def test_lookups_are_values_never_filter_text(service: Any) -> None:
    """An email full of filter syntax is compared as one value: it matches nothing."""
    role = make_role("by email", _clerk_rules(service))
    app, key = make_app("lookup app", role)
    hostile = "x') OR (1=1 OR email <> '@example.com"
    assign_role(make_user(hostile, PASSWORD), app, role)
    token = login(hostile, PASSWORD, key)
    status, body = client_for(key, token).get(f"{T}/customers")
    assert (status, body) == (200, {"resource": []})


def test_or_filters_and_user_lookups(service: Any) -> None:
    role = make_role(
        "either",
        [
            {
                "service": service,
                "component": "_table/orders/*",
                "verb_mask": GET,
                "filters": [
                    {"name": "status", "operator": "=", "value": "'cancelled'"},
                    {"name": "total", "operator": ">", "value": "200"},
                ],
                "filter_op": "OR",
            }
        ],
    )
    _app, key = make_app("or app", role)
    status, body = client_for(key).get(ORDERS, fields="id")
    assert (status, body) == (200, {"resource": [{"id": 2}, {"id": 4}]})


def test_a_user_lookup_without_a_user_is_refused(service: Any) -> None:
    role = make_role("by email", _clerk_rules(service))
    _app, key = make_app("key only", role)
    status, body = client_for(key).get(f"{T}/customers")
    assert status == 401
    assert body["error"]["message"] == "Unauthorized. User is not authenticated."


def test_a_filter_on_a_missing_column_is_a_server_misconfiguration(service: Any) -> None:
    role = make_role(
        "broken",
        [
            {
                "service": service,
                "component": "_table/*",
                "verb_mask": GET,
                "filters": [{"name": "owner_id", "operator": "=", "value": "1"}],
            }
        ],
    )
    _app, key = make_app("broken app", role)
    status, body = client_for(key).get(ORDERS)
    assert status == 500
    assert body["error"]["message"] == "Invalid server-side filter configuration detected."
    assert "owner_id" not in orjson.dumps(body).decode()  # the detail goes to the log only


def test_admins_bypass_row_filters(api: Any, pg: Any) -> None:
    status, body = api.get(ORDERS, fields="id")
    assert [r["id"] for r in body["resource"]] == [1, 2, 3, 4]


def test_a_table_rule_overrides_the_table_wide_rule(service: Any) -> None:
    """`_table/orders/*` with a filter is more specific than `_table/*` without one: the
    filter holds for orders, the wide rule still serves the other tables (README example)."""
    role = make_role(
        "wide and narrow",
        [
            {"service": service, "component": "_table/*", "verb_mask": GET},
            {
                "service": service,
                "component": "_table/orders/*",
                "verb_mask": ALL_VERBS,
                "filters": [{"name": "customer_id", "operator": "=", "value": "2"}],
            },
        ],
    )
    _app, key = make_app("narrow app", role)
    api = client_for(key)
    assert api.get(ORDERS, fields="id") == (200, {"resource": [{"id": 3}]})
    assert len(api.get(f"{T}/customers")[1]["resource"]) == 3
