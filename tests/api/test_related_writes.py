"""Nested related writes (spec §3.12) and `related=` on writes (§3.6)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import (
    assert_error,
    assign_role,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
)

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
CARTS = """
TRUNCATE products, carts, cart_items RESTART IDENTITY CASCADE;
INSERT INTO products (name, price) VALUES ('pen', 1.50), ('ink', 4.00);
INSERT INTO carts (owner) VALUES ('ann');
INSERT INTO cart_items (cart_id, product_id, qty) VALUES (1, 1, 2);
"""


def items_of(pg: Any, order_id: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = pg.execute(
        "SELECT id, sku, qty FROM order_items WHERE order_id = %s ORDER BY id", (order_id,)
    ).fetchall()
    return rows


# --- has_many children ------------------------------------------------------------------------


def test_post_parent_with_children_sets_their_fk(api: Any, pg: Any) -> None:
    order = {
        "customer_id": 2,
        "total": 10,
        "order_items_by_order_id": [{"sku": "N1", "qty": 1}, {"sku": "N2", "qty": 3}],
    }
    status, body = api.post(f"{T}/orders", [order])
    assert (status, body) == (200, {"resource": [{"id": 5}]})
    assert items_of(pg, 5) == [(4, "N1", 1), (5, "N2", 3)]


def test_related_on_a_write_answers_the_related_records(api: Any) -> None:
    order = {"total": 1, "order_items_by_order_id": [{"sku": "N1", "qty": 1}]}
    status, body = api.post(
        f"{T}/orders",
        {"resource": [order]},
        fields="total",
        related="order_items_by_order_id,customers_by_customer_id",
    )
    assert status == 200, body
    assert body == {
        "resource": [
            {
                # the local keys of the relationships are read too (spec §3.12)
                "id": 5,
                "customer_id": None,
                "total": 1.00,
                "order_items_by_order_id": [{"id": 4, "order_id": 5, "sku": "N1", "qty": 1}],
                "customers_by_customer_id": None,
            }
        ]
    }
    # an update by id answers one record, with its related records
    status, body = api.patch(f"{T}/orders/1", {"note": "x"}, related="order_items_by_order_id")
    assert status == 200, body
    assert [i["sku"] for i in body["order_items_by_order_id"]] == ["A1", "B2"]
    assert body["id"] == 1


def test_a_failing_child_rolls_back_the_parent_and_is_named(api: Any, pg: Any) -> None:
    order = {
        "total": 5,
        "order_items_by_order_id": [{"sku": "ok", "qty": 1}, {"sku": "bad", "qty": 0}],
    }
    status, body = api.post(f"{T}/orders", [order])
    error = assert_error(
        status, body, 400, "Batch Error: Not all requested records could be created."
    )
    inner = error["context"]["resource"][0]
    assert inner["message"].startswith("order_items_by_order_id[1]: ")
    assert "order_items_qty_check" in inner["message"]
    assert inner["context"]["related"] == "order_items_by_order_id[1]"
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (4,)
    assert pg.execute("SELECT count(*) FROM order_items").fetchone() == (3,)
    # a child that fails validation is named the same way, before anything runs
    order = {"total": 5, "order_items_by_order_id": [{"qty": 1}]}
    status, body = api.post(f"{T}/orders", [order])
    error = assert_error(
        status, body, 400, "Batch Error: Not all requested records could be created."
    )
    assert error["context"]["resource"][0]["message"] == (
        "order_items_by_order_id[0]: Required field 'sku' can not be NULL."
    )


def test_batch_with_children_keeps_batch_semantics(api: Any, pg: Any) -> None:
    orders = [
        {"total": 1, "order_items_by_order_id": [{"sku": "a", "qty": 1}]},
        {"total": 2, "order_items_by_order_id": [{"sku": "b", "qty": -1}]},
        {"total": 3, "order_items_by_order_id": [{"sku": "c", "qty": 1}]},
    ]
    status, body = api.post(f"{T}/orders", orders, rollback="true")
    assert status == 400
    assert body["error"]["context"]["error"] == [1]
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (4,)
    status, body = api.post(f"{T}/orders", orders, **{"continue": "true"})
    assert status == 400
    assert body["error"]["context"]["error"] == [1]
    assert [r[1] for r in items_of(pg, 7)] + [r[1] for r in items_of(pg, 9)] == ["a", "c"]
    assert pg.execute("SELECT count(*) FROM orders WHERE id = 8").fetchone() == (0,)


def test_patch_updates_children_by_key_and_creates_new_ones(api: Any, pg: Any) -> None:
    status, body = api.patch(
        f"{T}/orders/1",
        {"order_items_by_order_id": [{"id": 2, "qty": 9}, {"sku": "new", "qty": 4}]},
    )
    assert (status, body) == (200, {"id": 1})
    # item 1 was not in the list: left as it was
    assert items_of(pg, 1) == [(1, "A1", 2), (2, "B2", 9), (4, "new", 4)]
    # moving an existing child from another order links it here
    assert api.patch(f"{T}/orders/1", {"order_items_by_order_id": [{"id": 3}]}) == (
        200,
        {"id": 1},
    )
    assert [r[0] for r in items_of(pg, 1)] == [1, 2, 3, 4]
    # a child that is not there is a 404 naming it
    status, body = api.patch(f"{T}/orders/1", {"order_items_by_order_id": [{"id": 99, "qty": 1}]})
    assert_error(
        status, body, 404, "order_items_by_order_id[0]: Record with identifier '99' not found."
    )


def test_unlink_sets_the_fk_null_or_deletes_with_allow_related_delete(api: Any, pg: Any) -> None:
    status, body = api.patch(
        f"{T}/customers/1", {"orders_by_customer_id": [{"id": 2, "customer_id": None}]}
    )
    assert (status, body) == (200, {"id": 1})
    assert pg.execute("SELECT customer_id FROM orders WHERE id = 2").fetchone() == (None,)
    # order_items.order_id is NOT NULL: unlinking is refused, deleting is allowed when asked
    child = {"order_items_by_order_id": [{"id": 1, "order_id": None}]}
    status, body = api.patch(f"{T}/orders/1", child)
    assert status == 400
    assert body["error"]["message"].startswith("order_items_by_order_id[0]: ")
    status, body = api.patch(f"{T}/orders/1", child, allow_related_delete="true")
    assert (status, body) == (200, {"id": 1})
    assert [r[0] for r in items_of(pg, 1)] == [2]


# --- belongs_to parents -----------------------------------------------------------------------


def test_belongs_to_parent_is_created_first_and_its_key_copied(api: Any, pg: Any) -> None:
    order = {"total": 3, "customers_by_customer_id": {"name": "Umbrella", "country": "UK"}}
    status, body = api.post(f"{T}/orders", [order], fields="id,customer_id")
    assert (status, body) == (200, {"resource": [{"id": 5, "customer_id": 4}]})
    assert pg.execute("SELECT name FROM customers WHERE id = 4").fetchone() == ("Umbrella",)
    # an existing parent named by its key is linked (and updated with what is given)
    order = {"total": 4, "customers_by_customer_id": {"id": 2, "email": "g@example.com"}}
    status, body = api.post(f"{T}/orders", [order], fields="customer_id")
    assert (status, body) == (200, {"resource": [{"customer_id": 2}]})
    assert pg.execute("SELECT email FROM customers WHERE id = 2").fetchone() == ("g@example.com",)
    # a parent that fails rolls the record back
    order = {"total": 5, "customers_by_customer_id": {"name": "Acme"}}  # name is unique
    status, body = api.post(f"{T}/orders", [order])
    assert status in (400, 409)
    message = body["error"]["context"]["resource"][0]["message"]
    assert message.startswith("customers_by_customer_id: ")
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (6,)


# --- many_many --------------------------------------------------------------------------------


def test_many_many_creates_far_records_and_junction_rows(api: Any, pg: Any) -> None:
    pg.execute(CARTS)
    cart = {"owner": "bob", "products_by_cart_items": [{"id": 2}, {"name": "pad", "price": 2}]}
    status, body = api.post(f"{T}/carts", [cart], related="products_by_cart_items")
    assert status == 200, body
    (created,) = body["resource"]
    assert [p["name"] for p in created["products_by_cart_items"]] == ["ink", "pad"]
    links = pg.execute("SELECT cart_id, product_id, qty FROM cart_items ORDER BY id").fetchall()
    assert links == [(1, 1, 2), (2, 2, 1), (2, 3, 1)]
    # linking what is linked already adds no second junction row
    status, body = api.patch(f"{T}/carts/1", {"products_by_cart_items": [{"id": 1}, {"id": 2}]})
    assert (status, body) == (200, {"id": 1})
    assert pg.execute("SELECT count(*) FROM cart_items WHERE cart_id = 1").fetchone() == (2,)


# --- access -----------------------------------------------------------------------------------


def test_nested_writes_need_the_verb_on_the_related_table(service: Any, pg: Any) -> None:
    role = make_role(
        "orders only",
        [
            {"service": service, "component": "_table/orders/*", "verb_mask": 31},
            {"service": service, "component": "_table/order_items/*", "verb_mask": 1},
        ],
    )
    app, key = make_app("orders app", role)
    assign_role(make_user("clerk@example.com", "clerk-password-1"), app, role)
    clerk = client_for(key, login("clerk@example.com", "clerk-password-1", key))
    order = {"total": 1, "order_items_by_order_id": [{"sku": "x", "qty": 1}]}
    status, body = clerk.post(f"{T}/orders", [order])
    error = assert_error(
        status, body, 400, "Batch Error: Not all requested records could be created."
    )
    refusal = error["context"]["resource"][0]
    assert refusal["status_code"] == 403 and "_table/order_items" in refusal["message"]
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (4,)
    assert clerk.post(f"{T}/orders", [{"total": 1}]) == (200, {"resource": [{"id": 5}]})


def test_the_related_tables_row_filter_applies_to_nested_records(service: Any, pg: Any) -> None:
    role = make_role(
        "small items",
        [
            {"service": service, "component": "_table/orders/*", "verb_mask": 31},
            {
                "service": service,
                "component": "_table/order_items/*",
                "verb_mask": 31,
                "filters": [{"name": "qty", "operator": "<=", "value": "10"}],
            },
        ],
    )
    app, key = make_app("items app", role)
    assign_role(make_user("small@example.com", "small-password-1"), app, role)
    clerk = client_for(key, login("small@example.com", "small-password-1", key))
    order = {"total": 1, "order_items_by_order_id": [{"sku": "big", "qty": 50}]}
    status, body = clerk.post(f"{T}/orders", [order])
    assert status == 400
    refusal = body["error"]["context"]["resource"][0]
    assert (refusal["status_code"], refusal["message"]) == (
        403,
        "order_items_by_order_id[0]: Denied access to some of the requested fields.",
    )
    assert pg.execute("SELECT count(*) FROM orders").fetchone() == (4,)
    # an existing child outside the filter cannot be taken over
    pg.execute("UPDATE order_items SET qty = 20 WHERE id = 3")
    status, body = clerk.patch(f"{T}/orders/1", {"order_items_by_order_id": [{"id": 3}]})
    assert_error(
        status, body, 404, "order_items_by_order_id[0]: Record with identifier '3' not found."
    )
    assert pg.execute("SELECT order_id FROM order_items WHERE id = 3").fetchone() == (2,)


def test_nested_records_nest_and_has_one_takes_an_object(api: Any, pg: Any) -> None:
    customer = {
        "name": "Hooli",
        "profiles_by_customer_id": {"bio": "moves fast"},
        "orders_by_customer_id": [
            {"total": 7, "order_items_by_order_id": [{"sku": "deep", "qty": 2}]},
        ],
    }
    status, body = api.post(
        f"{T}/customers", [customer], related="profiles_by_customer_id,orders_by_customer_id"
    )
    assert status == 200, body
    (created,) = body["resource"]
    assert created["profiles_by_customer_id"] == {"customer_id": 4, "bio": "moves fast"}
    assert [o["total"] for o in created["orders_by_customer_id"]] == [7]
    assert items_of(pg, 5) == [(4, "deep", 2)]
    # an error two levels down names the whole path
    customer = {
        "name": "Pied Piper",
        "orders_by_customer_id": [{"total": 1, "order_items_by_order_id": [{"sku": "x"}]}],
    }
    status, body = api.post(f"{T}/customers", [customer])
    assert body["error"]["context"]["resource"][0]["message"] == (
        "orders_by_customer_id[0].order_items_by_order_id[0]: Required field 'qty' can not be NULL."
    )
    assert pg.execute("SELECT count(*) FROM customers").fetchone() == (4,)


def test_records_form_and_upsert_with_children(api: Any, pg: Any, service: Any) -> None:
    records = [
        {"id": 1, "order_items_by_order_id": [{"sku": "r1", "qty": 1}]},
        {"id": 2, "note": "n", "order_items_by_order_id": [{"id": 3, "qty": 8}]},
    ]
    status, body = api.patch(f"{T}/orders", records)
    assert (status, body) == (200, {"resource": [{"id": 1}, {"id": 2}]})
    assert items_of(pg, 1)[-1] == (4, "r1", 1)
    assert items_of(pg, 2) == [(3, "C3", 8)]
    service.allow_upsert = True
    service.save()
    new = {"total": 3, "order_items_by_order_id": [{"sku": "u1", "qty": 1}]}
    assert api.put(f"{T}/orders/30", new) == (200, {"id": 30})
    assert items_of(pg, 30) == [(5, "u1", 1)]
