"""many_many relationships through a junction table (spec §3.12) and their `_schema` (§4.2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assign_role, client_for, login, make_app, make_role, make_user

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
S = "/api/v2/shop/_schema"

SEED = """
TRUNCATE products, carts, cart_items RESTART IDENTITY CASCADE;
INSERT INTO products (name, price) VALUES ('pen', 1.50), ('ink', 4.00), ('pad', 2.25);
INSERT INTO carts (owner) VALUES ('ann'), ('bob'), ('cy');
-- ann: pad, pen and pen again (one product linked twice shows once); bob: ink; cy: nothing
INSERT INTO cart_items (cart_id, product_id, qty) VALUES (1, 3, 1), (1, 1, 2), (1, 1, 1), (2, 2, 5);
"""


@pytest.fixture
def carts(pg: Any) -> Any:
    pg.execute(SEED)
    return pg


def test_related_many_many_embeds_the_far_rows(api: Any, carts: Any) -> None:
    status, body = api.get(
        f"{T}/carts", related="products_by_cart_items", order="id", fields="owner"
    )
    assert status == 200, body
    got = {c["owner"]: c["products_by_cart_items"] for c in body["resource"]}
    assert got == {
        "ann": [
            {"id": 1, "name": "pen", "price": 1.50},
            {"id": 3, "name": "pad", "price": 2.25},
        ],
        "bob": [{"id": 2, "name": "ink", "price": 4.00}],
        "cy": [],
    }
    # the other direction, by id, with per-relationship options
    status, body = api.get(
        f"{T}/products/1",
        related="carts_by_cart_items",
        **{"carts_by_cart_items.fields": "owner"},
    )
    assert status == 200, body
    assert body["carts_by_cart_items"] == [{"owner": "ann"}]


def test_related_star_includes_many_many_and_limits_apply(api: Any, carts: Any) -> None:
    status, body = api.get(
        f"{T}/carts/1",
        related="*",
        **{"products_by_cart_items.limit": "1", "products_by_cart_items.order": "name"},
    )
    assert status == 200, body
    assert body["products_by_cart_items"] == [{"id": 3, "name": "pad", "price": 2.25}]
    assert [i["product_id"] for i in body["cart_items_by_cart_id"]] == [3, 1, 1]


def test_schema_describes_the_junction(api: Any, service: Any) -> None:
    status, body = api.get(f"{S}/carts")
    assert status == 200
    related = {r["name"]: r for r in body["related"]}
    assert related["products_by_cart_items"] | {"ref_service_id": None} == {
        "alias": None,
        "name": "products_by_cart_items",
        "label": "Products By Cart Items",
        "description": None,
        "native": [],
        "type": "many_many",
        "field": "id",
        "is_virtual": False,
        "ref_service_id": None,
        "ref_table": "products",
        "ref_field": "id",
        "ref_on_update": "NO ACTION",
        "ref_on_delete": "NO ACTION",
        "junction_service_id": service.id,
        "junction_table": "cart_items",
        "junction_field": "cart_id",
        "junction_ref_field": "product_id",
        "always_fetch": False,
        "flatten": False,
        "flatten_drop_prefix": False,
    }
    assert related["cart_items_by_cart_id"]["junction_table"] is None
    status, body = api.get(f"{S}/products/_related/carts_by_cart_items")
    assert status == 200, body
    assert (body["type"], body["junction_field"], body["junction_ref_field"]) == (
        "many_many",
        "product_id",
        "cart_id",
    )


def test_many_many_needs_read_access_to_the_junction(carts: Any, service: Any) -> None:
    role = make_role(
        "no links",
        [
            {"service": service, "component": "_table/carts/*", "verb_mask": 1},
            {"service": service, "component": "_table/products/*", "verb_mask": 1},
        ],
    )
    app, key = make_app("carts app", role)
    assign_role(make_user("ann@example.com", "ann-password-123"), app, role)
    caller = client_for(key, login("ann@example.com", "ann-password-123", key))
    status, body = caller.get(f"{T}/carts/1", related="products_by_cart_items")
    assert status == 403, body
    assert "_table/cart_items" in body["error"]["message"]
    status, body = caller.get(f"{T}/carts/1", related="*")
    assert status == 200, body
    assert "products_by_cart_items" not in body


def test_a_many_many_cannot_be_dropped_by_itself(api: Any, service: Any) -> None:
    status, body = api.delete(f"{S}/carts/_related/products_by_cart_items")
    assert status == 400, body
    assert body["error"]["message"] == (
        "Relationship 'products_by_cart_items' comes from the foreign keys of 'cart_items';"
        " drop one of those to remove it."
    )
    status, body = api.get(f"{S}/carts/_related/products_by_cart_items")
    assert status == 200
