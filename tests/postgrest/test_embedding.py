"""Resource embedding through `/rest/<service>/<table>` with the real PostgREST client (issue
#14): many-to-one, one-to-many, many-to-many, nesting, aliases, `!inner`, hints, spread, and
filters/order/limit/offset on embedded resources; the role's row filters still apply."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.conftest import FIXTURES
from tests.postgrest.conftest import Rest, answers, caught_error

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _carts(rest: Rest, fixture_db: dict[str, Any]) -> None:
    """The many_many tables hold rows for this module (other tests fill them their own way)."""
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute((FIXTURES / "seed_pgrst_embed.sql").read_text())


def _rows(rest: Rest, table: str, select: str, **params: str) -> Any:
    query = rest.client().from_(table).select(select)
    for key, value in params.items():
        query = query.filter(key.replace("__", "."), *value.split(".", 1))
    return query.order("id").execute().data


# --- embedding ------------------------------------------------------------------------------


def test_many_to_one_embeds_an_object_or_null(rest: Rest) -> None:
    rows = _rows(rest, "orders", "id, customers(name)")
    assert rows == [
        {"id": 1, "customers": {"name": "Acme"}},
        {"id": 2, "customers": {"name": "Acme"}},
        {"id": 3, "customers": {"name": "Globex"}},
        {"id": 4, "customers": None},
    ]
    only = _rows(rest, "orders", "customers(name)")  # no column of the parent at all
    assert only[0] == {"customers": {"name": "Acme"}}


def test_one_to_many_embeds_an_array(rest: Rest) -> None:
    rows = _rows(rest, "customers", "name, orders(id, status)")
    got = {r["name"]: sorted(o["id"] for o in r["orders"]) for r in rows}
    assert got == {"Acme": [1, 2], "Globex": [3], "Initech": []}
    assert rows[0]["orders"][0].keys() == {"id", "status"}


def test_many_to_many_embeds_the_far_rows_through_the_junction(rest: Rest) -> None:
    rows = _rows(rest, "carts", "owner, products(name)")
    got = {r["owner"]: sorted(p["name"] for p in r["products"]) for r in rows}
    assert got == {"ann": ["pad", "pen"], "bob": ["ink"], "cy": []}


def test_nested_embedding_and_aliases(rest: Rest) -> None:
    rows = _rows(rest, "customers", "name, purchases:orders(id, lines:order_items(sku, qty))")
    acme = rows[0]
    assert acme["name"] == "Acme"
    by_id = {o["id"]: o["lines"] for o in acme["purchases"]}
    assert sorted(by_id[1], key=lambda i: i["sku"]) == [
        {"sku": "A1", "qty": 2},
        {"sku": "B2", "qty": 1},
    ]
    assert by_id[2] == [{"sku": "C3", "qty": 5}]
    orders = _rows(rest, "orders", "id, buyer:customers(name)")
    assert orders[0] == {"id": 1, "buyer": {"name": "Acme"}}


def test_embedding_star_selects_every_column_of_the_embedded_table(rest: Rest) -> None:
    rows = _rows(rest, "order_items", "sku, orders(*)")
    assert rows[0]["orders"].keys() == {"id", "customer_id", "total", "status", "note"}


def test_inner_drops_parent_rows_without_a_match(rest: Rest) -> None:
    rows = _rows(rest, "orders", "id, customers!inner(name)")
    assert [r["id"] for r in rows] == [1, 2, 3]  # order 4 has no customer
    client = rest.client()
    with answers(client) as seen:
        result = (
            client.from_("customers")
            .select("name, orders!inner(id)", count="exact")
            .eq("orders.status", "shipped")
            .execute()
        )
    assert result.data == [{"name": "Acme", "orders": [{"id": 2}]}]
    assert seen[-1].headers["Content-Range"] == "0-0/1"  # the count drops them too


def test_empty_inner_embedding_filters_without_output(rest: Rest) -> None:
    rows = (
        rest.client()
        .from_("customers")
        .select("name, orders!inner()")
        .eq("orders.status", "new")
        .order("name")
        .execute()
        .data
    )
    assert rows == [{"name": "Acme"}, {"name": "Globex"}]


def test_hint_picks_one_of_several_relationships(rest: Rest) -> None:
    rows = _rows(
        rest,
        "pgrst_letters",
        "subject, sender:pgrst_people!pgrst_letters_sender_id_fkey(name),"
        " recipient:pgrst_people!recipient_id(name)",
    )
    assert rows == [
        {"subject": "hello", "sender": {"name": "ann"}, "recipient": {"name": "bob"}},
        {"subject": "reply", "sender": {"name": "bob"}, "recipient": {"name": "ann"}},
    ]
    orders = _rows(rest, "orders", "id, customers!orders_customer_id_fkey(name)")
    assert orders[0]["customers"] == {"name": "Acme"}


def test_ambiguous_embedding_is_300_pgrst201(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("pgrst_letters").select("subject, pgrst_people(name)").execute()
        )
    assert error.code == "PGRST201" and seen[-1].status_code == 300
    assert "more than one relationship" in error.message
    assert "pgrst_people!pgrst_letters_sender_id_fkey" in str(error.hint)
    assert isinstance(error.details, list) and len(error.details) == 2


def test_unknown_relationship_is_400_pgrst200(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("orders").select("id, todo(name)").execute())
    assert error.code == "PGRST200" and seen[-1].status_code == 400
    assert "'orders' and 'todo'" in error.message
    error = caught_error(
        lambda: client.from_("orders").select("id, customers!nope(name)").execute()
    )
    assert error.code == "PGRST200"


def test_spread_lifts_to_one_columns_into_the_parent(rest: Rest) -> None:
    rows = _rows(rest, "orders", "id, ...customers(buyer:name, country)")
    assert rows[0] == {"id": 1, "buyer": "Acme", "country": "US"}
    assert rows[3] == {"id": 4, "buyer": None, "country": None}
    error = caught_error(
        lambda: rest.client().from_("customers").select("name, ...orders(status)").execute()
    )
    assert error.code == "PGRST119"


# --- filters, order and paging of embedded resources ------------------------------------------


def test_embedded_filter_order_limit_offset(rest: Rest) -> None:
    base = rest.client().from_("customers").select("name, orders(id, status)").eq("name", "Acme")
    assert base.eq("orders.status", "new").execute().data[0]["orders"] == [
        {"id": 1, "status": "new"}
    ]
    ordered = (
        rest.client()
        .from_("customers")
        .select("name, orders(id)")
        .eq("name", "Acme")
        .order("id", desc=True, foreign_table="orders")
    )
    assert ordered.execute().data[0]["orders"] == [{"id": 2}, {"id": 1}]
    limited = (
        rest.client()
        .from_("customers")
        .select("name, orders(id)")
        .eq("name", "Acme")
        .order("id", foreign_table="orders")
        .limit(1, foreign_table="orders")
    )
    assert limited.execute().data[0]["orders"] == [{"id": 1}]
    paged = (
        rest.client()
        .from_("customers")
        .select("name, orders(id)")
        .eq("name", "Acme")
        .order("id", foreign_table="orders")
        .range(1, 1, foreign_table="orders")
    )
    assert paged.execute().data[0]["orders"] == [{"id": 2}]
    # the parent rows are all still there: only the embedded rows are filtered
    every = _rows(rest, "customers", "name, orders(id)", orders__status="eq.shipped")
    assert [len(r["orders"]) for r in every] == [1, 0, 0]


def test_nested_embedded_filter_and_many_to_one_filter(rest: Rest) -> None:
    rows = _rows(
        rest,
        "customers",
        "name, orders(id, order_items(sku))",
        **{"orders__order_items__qty": "gt.1"},
    )
    acme = {o["id"]: o["order_items"] for o in rows[0]["orders"]}
    assert acme == {1: [{"sku": "A1"}], 2: [{"sku": "C3"}]}
    orders = _rows(rest, "orders", "id, customers(name)", customers__country="eq.DE")
    assert [o["customers"] for o in orders] == [None, None, {"name": "Globex"}, None]


def test_filter_on_a_resource_not_embedded_is_400_pgrst108(rest: Rest) -> None:
    error = caught_error(
        lambda: rest.client().from_("customers").select("name").eq("orders.status", "new").execute()
    )
    assert error.code == "PGRST108" and "'orders'" in error.message


def test_unknown_column_of_an_embedded_table_is_a_400(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("orders").select("id, customers(nope)").execute())
    assert seen[-1].status_code == 400 and error.code == "42703"


# --- security -------------------------------------------------------------------------------


def test_role_row_filter_applies_to_embedded_rows(rest: Rest) -> None:
    rows = rest.app_client().from_("orders").select("id, customers(name)").order("id").execute()
    # the role reads only US customers: Globex (DE) is not embedded
    assert [r["customers"] for r in rows.data] == [
        {"name": "Acme"},
        {"name": "Acme"},
        None,
        None,
    ]
    inner = (
        rest.app_client().from_("orders").select("id, customers!inner(name)").order("id").execute()
    )
    assert [r["id"] for r in inner.data] == [1, 2]


def test_role_without_access_to_the_embedded_table_is_refused(rest: Rest) -> None:
    client = rest.app_client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("orders").select("id, order_items(sku)").execute()
        )
    # as /api/v2 answers the same related read: 401 for an app without a user (spec §8)
    status, body, _ = rest.server.call(
        "GET",
        "/api/v2/shop/_table/orders?related=order_items_by_order_id",
        headers={"X-DreamFactory-API-Key": rest.api_key},
    )
    assert seen[-1].status_code == status == 401, body
    assert error.message == body["error"]["message"]


def test_inner_on_many_to_many_nested_and_to_one_filters(rest: Rest) -> None:
    carts = _rows(rest, "carts", "owner, products!inner(name)", products__name="eq.ink")
    assert carts == [{"owner": "bob", "products": [{"name": "ink"}]}]
    nested = _rows(
        rest,
        "customers",
        "name, orders!inner(id, order_items!inner(sku))",
        orders__order_items__sku="eq.C3",
    )
    assert nested == [{"name": "Acme", "orders": [{"id": 2, "order_items": [{"sku": "C3"}]}]}]
    german = _rows(rest, "orders", "id, customers!inner(name)", customers__country="eq.DE")
    assert german == [{"id": 3, "customers": {"name": "Globex"}}]


def test_star_with_embedding_and_malformed_embedded_params(rest: Rest) -> None:
    rows = _rows(rest, "orders", "*, customers(*)")
    assert rows[0]["note"] == "first" and rows[0]["customers"]["name"] == "Acme"
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: (
                client.from_("customers")
                .select("name, orders(id)")
                .limit(-1, foreign_table="orders")
                .execute()
            )
        )
    assert error.code == "PGRST100" and seen[-1].status_code == 400
    error = caught_error(lambda: client.from_("customers").select("name, orders(id").execute())
    assert error.code == "PGRST100" and "position" in str(error.details)


def test_logic_tree_on_an_embedded_resource(rest: Rest) -> None:
    rows = (
        rest.client()
        .from_("customers")
        .select("name, orders(id)")
        .or_("status.eq.shipped,id.eq.3", reference_table="orders")
        .order("name")
        .execute()
        .data
    )
    assert rows == [
        {"name": "Acme", "orders": [{"id": 2}]},
        {"name": "Globex", "orders": [{"id": 3}]},
        {"name": "Initech", "orders": []},
    ]
