"""The security matrix of issue #3: every data API verb against every kind of caller.

Callers: no credentials, an unknown key, an inactive app's key, an expired, revoked, forged or
`none`-algorithm token, an app key alone (its default role reads only), a user whose role lacks
the verb, a user whose role lacks the table, a user whose row filter excludes the row, and an
admin. Every request targets order 3 (customer 2, Globex); the row-filtered user may only see
customer 1's orders. Each refused request must leave the database exactly as it was.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from django.conf import settings

from core.verbs import ALL_VERBS, GET
from tests.conftest import (
    assign_role,
    claims_for,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
)

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
PASSWORD = "user-password-123"
FORGING_SECRET = "not-the-gateway-secret-but-just-as-long"

# name -> (method, path, body, query)
REQUESTS: dict[str, tuple[str, str, Any, dict[str, str]]] = {
    "list": ("GET", f"{T}/orders", None, {"filter": "id%3D3"}),
    "get": ("GET", f"{T}/orders/3", None, {}),
    "create": ("POST", f"{T}/orders", [{"customer_id": 2, "total": 7}], {}),
    "batch_create": (
        "POST",
        f"{T}/orders",
        [{"customer_id": 1, "total": 7}, {"customer_id": 2, "total": 8}],
        {"rollback": "true"},
    ),
    "put": ("PUT", f"{T}/orders/3", {"note": "put"}, {}),
    "patch": ("PATCH", f"{T}/orders/3", {"note": "patched"}, {}),
    "batch_patch": (
        "PATCH",
        f"{T}/orders",
        {"resource": [{"id": 1, "note": "a"}, {"id": 3, "note": "b"}]},
        {"rollback": "true"},
    ),
    "delete": ("DELETE", f"{T}/orders/3", None, {}),
    "related": ("GET", f"{T}/customers/2", None, {"related": "orders_by_customer_id"}),
}
READS = frozenset({"list", "get", "related"})

NO_CREDENTIALS = "No session token (JWT) or API Key detected in request."
MISSING_JWT = "No session token (JWT) provided."
EXPIRED = "Token has expired"
BLACKLISTED = "The token has been blacklisted"
INVALID = "Invalid token"
NOT_AUTHENTICATED = "Unauthorized. User is not authenticated."
FORBIDDEN = "Access Forbidden."
NOT_FOUND = "Record with identifier"
BATCH = "Batch Error"


def _every(status: int, message: str) -> dict[str, tuple[int, str]]:
    return {name: (status, message) for name in REQUESTS}


OK = (200, "")
# scenario -> request -> (status, start of the error message; "" for success)
EXPECTED: dict[str, dict[str, tuple[int, str]]] = {
    "no credentials": _every(401, NO_CREDENTIALS),
    "unknown key": _every(401, MISSING_JWT),
    "inactive app": _every(401, MISSING_JWT),
    "expired token": _every(401, EXPIRED),
    "revoked token": _every(403, BLACKLISTED),
    "forged token": _every(401, INVALID),
    "none-algorithm token": _every(401, INVALID),
    "app key alone": {n: OK if n in READS else (401, NOT_AUTHENTICATED) for n in REQUESTS},
    "role without the verb": {n: OK if n in READS else (403, FORBIDDEN) for n in REQUESTS},
    "role without the table": {n: (403, FORBIDDEN) for n in REQUESTS},
    "row filter excludes the row": {
        "list": OK,  # answers no rows
        "get": (404, NOT_FOUND),
        "create": (400, BATCH),  # the record would be outside the filter: 403 inside
        "batch_create": (400, BATCH),
        "put": (404, NOT_FOUND),
        "patch": (404, NOT_FOUND),
        "batch_patch": (400, BATCH),
        "delete": (404, NOT_FOUND),
        "related": (404, NOT_FOUND),
    },
    "admin": _every(200, ""),
}


def _token(claims: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or settings.JWT_SECRET, algorithm="HS256")


def _none_alg(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return part({"alg": "none", "typ": "JWT"}) + "." + part(claims) + "."


@pytest.fixture
def callers(service: Any, admin_token: str) -> dict[str, tuple[str | None, str | None]]:
    """Scenario -> (api key, session token)."""
    reader = make_role(
        "shop read-only", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )
    clerk = make_role(
        "orders clerk",
        [
            {
                "service": service,
                "component": "_table/orders/*",
                "verb_mask": ALL_VERBS,
                "filters": [{"name": "customer_id", "operator": "=", "value": "1"}],
            },
            {
                "service": service,
                "component": "_table/customers/*",
                "verb_mask": GET,
                "filters": [{"name": "email", "operator": "=", "value": "{user.email}"}],
            },
        ],
    )
    customers_only = make_role(
        "customers only",
        [{"service": service, "component": "_table/customers/*", "verb_mask": ALL_VERBS}],
    )
    dash, key = make_app("Analytics dashboard", reader)
    _retired, retired_key = make_app("Retired app", reader, is_active=False)
    jane = make_user("acme@example.com", PASSWORD)  # Acme is customer 1
    bob = make_user("bob@example.com", PASSWORD)
    carol = make_user("carol@example.com", PASSWORD)
    assign_role(jane, dash, clerk)
    assign_role(bob, dash, reader)
    assign_role(carol, dash, customers_only)
    revoked = login("bob@example.com", PASSWORD, key)
    status, _ = client_for(key, revoked).delete("/api/v2/user/session")
    assert status == 200
    return {
        "no credentials": (None, None),
        "unknown key": ("0" * 64, None),
        "inactive app": (retired_key, None),
        "expired token": (key, _token(claims_for(bob, iat=0, nbf=0, exp=int(time.time()) - 60))),
        "revoked token": (key, revoked),
        "forged token": (
            key,
            _token(claims_for(bob), secret=FORGING_SECRET),
        ),
        "none-algorithm token": (key, _none_alg(claims_for(bob))),
        "app key alone": (key, None),
        "role without the verb": (key, login("bob@example.com", PASSWORD, key)),
        "role without the table": (key, login("carol@example.com", PASSWORD, key)),
        "row filter excludes the row": (key, login("acme@example.com", PASSWORD, key)),
        "admin": (None, admin_token),
    }


def _snapshot(pg: Any) -> list[Any]:
    orders = pg.execute("SELECT * FROM orders ORDER BY id").fetchall()
    items = pg.execute("SELECT * FROM order_items ORDER BY id").fetchall()
    return [orders, items]


@pytest.mark.parametrize("request_name", list(REQUESTS))
@pytest.mark.parametrize("scenario", list(EXPECTED))
def test_security_matrix(
    scenario: str, request_name: str, callers: dict[str, Any], pg: Any
) -> None:
    method, path, body, query = REQUESTS[request_name]
    status_expected, message = EXPECTED[scenario][request_name]
    api_key, token = callers[scenario]
    before = _snapshot(pg)
    status, answer = client_for(api_key, token).call(method, path, body, **query)
    assert status == status_expected, answer
    if status_expected >= 400:
        error = answer["error"]
        assert error["message"].startswith(message), error
        assert error["status_code"] == status_expected
        assert _snapshot(pg) == before, "a refused request changed the database"


def test_row_filtered_list_shows_only_the_roles_rows(callers: dict[str, Any]) -> None:
    api = client_for(*callers["row filter excludes the row"])
    status, body = api.get(f"{T}/orders", fields="id,customer_id")
    assert status == 200
    assert body["resource"] == [{"id": 1, "customer_id": 1}, {"id": 2, "customer_id": 1}]
    status, body = api.get(f"{T}/orders", filter="id%3D3")
    assert (status, body) == (200, {"resource": []})


def test_refused_record_inside_a_batch_error_is_403(callers: dict[str, Any], pg: Any) -> None:
    api = client_for(*callers["row filter excludes the row"])
    status, body = api.post(f"{T}/orders", [{"customer_id": 2, "total": 7}])
    assert status == 400
    inner = body["error"]["context"]["resource"][0]
    assert inner["status_code"] == 403
    assert inner["message"] == "Denied access to some of the requested fields."
    assert body["error"]["context"]["written"] == []


def test_related_table_the_role_cannot_read_is_refused(callers: dict[str, Any]) -> None:
    api = client_for(*callers["role without the table"])  # customers only, not orders
    status, body = api.get(f"{T}/customers/1", related="orders_by_customer_id")
    assert status == 403
    assert "'_table/orders'" in body["error"]["message"]
    status, body = api.get(f"{T}/customers/1", related="*")  # `*`: what the role may read
    assert status == 200
    assert "orders_by_customer_id" not in body
    assert "profiles_by_customer_id" not in body
    assert body["id"] == 1


def test_related_rows_get_the_roles_filter(callers: dict[str, Any]) -> None:
    api = client_for(*callers["row filter excludes the row"])
    status, body = api.get(f"{T}/orders/1", related="customers_by_customer_id")
    assert status == 200
    assert body["customers_by_customer_id"]["name"] == "Acme"
    reader = client_for(*callers["role without the verb"])
    status, body = reader.get(f"{T}/customers", related="orders_by_customer_id", fields="id")
    assert status == 200
    assert [len(c["orders_by_customer_id"]) for c in body["resource"]] == [2, 1, 0]
