"""`OPTIONS` and the OpenAPI 3.1 document of `/rest/<service>/` (issue #14, item 6), read
through the real PostgREST Python client's own HTTP session (the client has no call for
either): the verbs a table allows, and the tables, views and functions the role reaches."""

from __future__ import annotations

from typing import Any

import pytest
from postgrest import SyncPostgrestClient

from tests.postgrest.conftest import Rest

pytestmark = pytest.mark.slow


def _options(client: SyncPostgrestClient, path: str) -> Any:
    return client.session.options(path)


def _document(client: SyncPostgrestClient) -> Any:
    answer = client.session.get("/")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/openapi+json")
    return answer.json()


def test_options_on_a_table_allows_every_verb(rest: Rest) -> None:
    answer = _options(rest.client(), "/orders")
    assert answer.status_code == 200
    assert answer.headers["allow"] == "OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE"


def test_options_on_a_read_only_view_allows_reads(rest: Rest) -> None:
    # PostgREST's rule: what the view itself allows, whatever the caller's role
    assert _options(rest.client(), "/order_totals").headers["allow"] == "OPTIONS,GET,HEAD"
    assert "POST" in _options(rest.client(), "/big_orders").headers["allow"]  # auto-updatable


def test_options_on_functions_and_procedures(rest: Rest) -> None:
    client = rest.client()
    assert _options(client, "/rpc/add_numbers").headers["allow"] == "OPTIONS,GET,HEAD,POST"
    assert _options(client, "/rpc/order_stats").headers["allow"] == "OPTIONS,POST"
    assert _options(client, "/rpc/journal_note").headers["allow"] == "OPTIONS,POST"  # VOLATILE
    assert _options(client, "/rpc/no_such_fn").json()["code"] == "PGRST202"


def test_options_needs_a_caller_who_reaches_the_table(rest: Rest) -> None:
    answer = _options(rest.app_client(), "/todo")  # the app's role reads customers, orders
    assert answer.status_code in (401, 403) and "allow" not in answer.headers
    assert _options(rest.app_client(), "/orders").status_code == 200
    assert _options(rest.client(), "/no_such_table").json()["code"] == "PGRST205"


def test_document_is_openapi_3_1_of_the_dialect(rest: Rest) -> None:
    doc = _document(rest.client())
    assert doc["openapi"] == "3.1.0" and doc["servers"] == [{"url": "/rest/shop"}]
    orders = doc["paths"]["/orders"]
    assert set(orders) >= {"get", "post", "patch", "delete"}
    names = {
        p.get("name") or p.get("$ref", "").rsplit("/", 1)[-1] for p in orders["get"]["parameters"]
    }
    assert {"select", "order", "limit", "offset", "range", "prefer", "status", "total"} <= names
    components = doc["components"]
    assert components["parameters"]["range"]["name"] == "Range"
    assert components["parameters"]["prefer"]["in"] == "header"
    assert "total" in components["schemas"]["Orders"]["properties"]
    assert "post" not in doc["paths"]["/order_totals"]  # a read-only view


def test_document_lists_functions_under_rpc(rest: Rest) -> None:
    paths = _document(rest.client())["paths"]
    add = paths["/rpc/add_numbers"]
    assert set(
        add["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    ) == {
        "a",
        "b",
    }
    assert {p.get("name") for p in add["get"]["parameters"]} >= {"a", "b"}
    assert "get" not in paths["/rpc/order_stats"] and "post" in paths["/rpc/order_stats"]
    assert set(paths["/rpc/journal_note"]) == {"summary", "post"}  # VOLATILE: POST only
    assert "/rpc/hidden_fn" not in paths  # another schema's


def test_document_holds_only_what_the_role_reaches(rest: Rest) -> None:
    doc = _document(rest.app_client())  # reads customers and orders, calls nothing
    assert set(doc["paths"]) == {"/", "/customers", "/orders"}
    assert set(doc["paths"]["/orders"]) == {"summary", "get"}


def test_document_of_another_profile(rest: Rest) -> None:
    client = rest.client().schema("other")
    answer = client.session.get("/", headers=client.headers)
    assert answer.status_code == 406 and answer.json()["code"] == "PGRST106"
