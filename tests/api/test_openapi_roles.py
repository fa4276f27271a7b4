"""The OpenAPI document as the caller's role sees it, and one path per stored routine."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from core.verbs import ALL_VERBS, GET, POST
from tests.conftest import Api, client_for, make_app, make_role

pytestmark = pytest.mark.django_db

SPEC = "/api/v2/shop/_spec"


def _document(client: Api, path: str = SPEC) -> dict[str, Any]:
    status, body = client.get(path)
    assert status == 200, body
    validate(body)
    return dict(body)


def _verbs(document: dict[str, Any], path: str) -> set[str]:
    return {k for k in document["paths"].get(path, {}) if k != "parameters"}


@pytest.fixture
def clerk(service: Any) -> tuple[Api, Any]:
    """Reads and updates todo, reads orders' list only, may call add_numbers and countdown by
    GET, and order_stats by POST; nothing else."""
    role = make_role(
        "docs clerk",
        [
            {"service": service, "component": "_spec", "verb_mask": GET},
            {"service": service, "component": "_table/todo/*", "verb_mask": GET | 8},
            {"service": service, "component": "_table/orders", "verb_mask": GET},
            {"service": service, "component": "_func/add_numbers", "verb_mask": GET},
            {"service": service, "component": "_func/countdown", "verb_mask": GET},
            {"service": service, "component": "_proc/order_stats", "verb_mask": POST},
        ],
    )
    _app, key = make_app("docs app", role)
    return client_for(api_key=key), role


def test_admin_sees_every_routine_with_its_parameters_and_result(api: Api) -> None:
    document = _document(api)
    paths = document["paths"]
    add = paths["/_func/add_numbers"]
    assert set(add) == {"get", "post"}
    params = {p["name"]: p for p in add["get"]["parameters"]}
    assert set(params) == {"a", "b"}
    assert params["a"]["required"] is True
    assert params["a"]["schema"]["type"] == "integer"
    assert params["a"]["schema"]["description"] == "IN integer"
    ok = add["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["type"] == "integer"
    body = add["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["properties"]["params"]["properties"]) == {"a", "b"}
    # defaults make a parameter optional
    greet = {p["name"]: p for p in paths["/_func/greet"]["get"]["parameters"]}
    assert greet["p_name"]["required"] is True and greet["p_greeting"]["required"] is False
    # a set's rows, with limit/offset; a table-returning function's columns
    countdown = paths["/_func/countdown"]["get"]
    assert {"p_from", "limit", "offset"} == {p["name"] for p in countdown["parameters"]}
    rows = countdown["responses"]["200"]["content"]["application/json"]["schema"]
    assert rows["type"] == "array" and "countdown" in rows["items"]["properties"]
    totals = paths["/_func/customer_totals"]["get"]["responses"]["200"]["content"]
    columns = totals["application/json"]["schema"]["items"]["properties"]
    assert set(columns) == {"customer", "order_count", "spent"}
    # procedures: OUT parameters are the answer's keys, IN ones the inputs
    stats = paths["/_proc/order_stats"]
    assert {p["name"] for p in stats["get"]["parameters"]} == {"p_status"}
    out = stats["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(out["properties"]) == {"p_count", "p_total"}
    assert "OUT" in out["properties"]["p_count"]["description"]
    # overloads share one path that names their signatures
    assert "Overloads" in paths["/_func/area"]["get"]["description"]
    # names that need encoding, and unique operation ids
    assert "/_func/Weird%20Fn" in paths and "/_proc/Weird%20Proc" in paths
    ids = [
        op["operationId"] for item in paths.values() for k, op in item.items() if k != "parameters"
    ]
    assert len(ids) == len(set(ids))


def test_try_it_out_calls_each_routine_as_documented(api: Api) -> None:
    document = _document(api)
    add = document["paths"]["/_func/add_numbers"]["get"]
    query = {p["name"]: 2 for p in add["parameters"]}
    status, body = api.get("/api/v2/shop/_func/add_numbers", **query)
    assert (status, body) == (200, 4)
    status, body = api.post("/api/v2/shop/_proc/order_stats", {"params": {"p_status": "new"}})
    assert status == 200, body
    assert set(body) == set(
        document["paths"]["/_proc/order_stats"]["post"]["responses"]["200"]["content"][
            "application/json"
        ]["schema"]["properties"]
    )


def test_a_role_sees_only_what_it_may_do(clerk: tuple[Api, Any]) -> None:
    client, _role = clerk
    document = _document(client)
    paths = document["paths"]
    assert _verbs(document, "/_table/todo") == {"get", "patch"}
    assert _verbs(document, "/_table/todo/{id}") == {"get", "patch"}
    assert _verbs(document, "/_table/orders") == {"get"}
    assert "/_table/orders/{id}" not in paths  # an exact rule does not reach records
    for hidden in ("/_table/customers", "/_table/all_types", "/_schema", "/_schema/{table_name}"):
        assert hidden not in paths, hidden
    assert _verbs(document, "/_func/add_numbers") == {"get"}
    assert _verbs(document, "/_proc/order_stats") == {"post"}
    assert "/_func/greet" not in paths and "/_proc/journal_add" not in paths
    assert "/_func" not in paths and "/_sql" not in paths
    titles = {s.get("title") for s in document["components"]["schemas"].values()}
    assert {"todo", "orders"} <= titles and "customers" not in titles
    assert {t["name"] for t in document["tags"]} == {"todo", "orders"}
    # what the document offers, the role can call
    status, body = client.get("/api/v2/shop/_func/countdown", p_from=3, limit=2)
    assert (status, body) == (200, [{"countdown": 3}, {"countdown": 2}])
    # api_docs answers the same document
    assert _document(client, "/api/v2/api_docs/shop") == document


def test_a_role_change_shows_in_the_next_document(clerk: tuple[Api, Any], service: Any) -> None:
    from rbac.models import RoleServiceAccess

    client, role = clerk
    assert "/_table/customers" not in _document(client)["paths"]
    rule = RoleServiceAccess.objects.create(
        role=role, service=service, component="_table/customers", verb_mask=GET
    )
    assert _verbs(_document(client), "/_table/customers") == {"get"}
    rule.verb_mask = ALL_VERBS
    rule.save()
    assert _verbs(_document(client), "/_table/customers") == {
        "get",
        "post",
        "put",
        "patch",
        "delete",
    }
    rule.delete()
    assert "/_table/customers" not in _document(client)["paths"]


def test_sql_shows_the_verbs_the_role_has(service: Any, api: Api) -> None:
    service.allow_sql = True
    service.save()
    admin = _document(api)["paths"]["/_sql"]
    assert set(admin) == {"get", "post"}
    assert admin["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "query"
    ]
    role = make_role(
        "sql reader",
        [
            {"service": service, "component": "_spec", "verb_mask": GET},
            {"service": service, "component": "_sql", "verb_mask": GET},
        ],
    )
    _app, key = make_app("sql docs", role)
    reader = _document(client_for(api_key=key))
    assert set(reader["paths"]) == {"/_sql"}
    assert set(reader["paths"]["/_sql"]) == {"get"}


def test_the_table_list_is_documented_only_when_the_role_may_list(clerk: tuple[Api, Any]) -> None:
    client, _role = clerk
    status, _body = client.get("/api/v2/shop/_table")
    assert ("/_table" in _document(client)["paths"]) == (status == 200)
