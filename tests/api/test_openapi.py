"""The per-service OpenAPI document: `_spec`, `/api/v2/api_docs[/{service}]`, the docs page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

ERROR_STATUSES = ("400", "401", "403", "404", "500", "503", "504")


@pytest.fixture
def document(api: Any) -> dict[str, Any]:
    status, body = api.get("/api/v2/shop/_spec")
    assert status == 200, body
    return dict(body)


def table_path(name: str) -> str:
    return f"/_table/{quote(name, safe='')}"


def record_schemas(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Component schemas of tables and views, keyed by the table name (their title)."""
    schemas = document["components"]["schemas"].values()
    return {s["title"]: s for s in schemas if "title" in s}


def test_document_validates_and_covers_every_table(api: Any, document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "/api/v2/shop"}]
    _, listing = api.get("/api/v2/shop/_table")
    names = {t["name"] for t in listing["resource"]}
    assert {"todo", "Table With Space", 'quote"d', "big_orders", "no_pk"} <= names
    assert set(record_schemas(document)) == names
    for name in names:
        assert table_path(name) in document["paths"], name
    assert "/_table/Table%20With%20Space" in document["paths"]
    assert "/_table/quote%22d/{id}" in document["paths"]
    operation_ids = [
        op["operationId"]
        for item in document["paths"].values()
        for key, op in item.items()
        if key != "parameters"
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert {"getShopTodo", "createShopTodo", "getShopTodoById", "deleteShopTodoById"} <= set(
        operation_ids
    )


def test_hostile_names_reach_their_tables(api: Any, document: dict[str, Any]) -> None:
    """The encoded path keys are real URLs of the gateway."""
    for name in ("Table With Space", 'quote"d', "Escap3e;"):
        path = next(p for p in document["paths"] if p == table_path(name))
        status, body = api.get(f"/api/v2/shop{path}")
        assert status == 200, (name, body)


def test_views_write_as_the_database_allows_and_no_pk_tables_have_no_record_path(
    document: dict[str, Any],
) -> None:
    # a simple view PostgreSQL can write through; one with GROUP BY is read-only
    assert set(document["paths"][table_path("big_orders")]) == {
        "get",
        "post",
        "put",
        "patch",
        "delete",
    }
    assert set(document["paths"][table_path("order_totals")]) == {"get"}
    assert table_path("big_orders") + "/{id}" not in document["paths"]
    assert table_path("no_pk") + "/{id}" not in document["paths"]
    assert {"get", "post", "put", "patch", "delete"} <= set(document["paths"][table_path("no_pk")])
    record = document["paths"][table_path("todo") + "/{id}"]
    assert {"get", "put", "patch", "delete"} <= set(record)
    assert record["parameters"][0]["schema"] == {"type": "integer", "format": "int32"}
    params = {
        p["$ref"].rsplit("/", 1)[1] for p in document["paths"]["/_table/todo"]["get"]["parameters"]
    }
    assert {"filter", "fields", "order", "limit", "offset", "include_count", "count_only"} <= params
    assert {"ids", "id_field", "related"} <= params
    writes = {
        p["$ref"].rsplit("/", 1)[1] for p in document["paths"]["/_table/todo"]["post"]["parameters"]
    }
    assert {"continue", "rollback"} <= writes


def test_column_types_formats_and_nullability(document: dict[str, Any]) -> None:
    props = record_schemas(document)["all_types"]["properties"]
    assert props["id"]["type"] == "integer" and props["id"]["readOnly"] is True
    assert props["i8"]["type"] == ["integer", "null"] and props["i8"]["format"] == "int64"
    assert props["num"]["type"] == ["number", "null"]
    assert props["flag"]["type"] == ["boolean", "null"]
    assert (props["uid"]["format"], props["d"]["format"]) == ("uuid", "date")
    assert props["tstz"]["format"] == "date-time"
    assert props["bin"]["format"] == "byte" and props["bin"]["contentEncoding"] == "base64"
    assert "type" not in props["jsb"] and "type" not in props["js"]
    assert props["int_arr"]["type"] == ["array", "null"]
    assert props["int_arr"]["items"] == {"type": "integer", "format": "int32"}
    assert props["vc"]["maxLength"] == 20
    assert props["generated_len"]["readOnly"] is True
    todo = record_schemas(document)["todo"]["properties"]
    assert todo["name"]["type"] == "string"  # NOT NULL: no "null"


def test_error_envelope_is_shared_by_error_responses(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]["error"]["properties"]) == {
        "code",
        "context",
        "message",
        "status_code",
    }
    for name, response in document["components"]["responses"].items():
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, name
    for item in document["paths"].values():
        for key, op in item.items():
            if key == "parameters":
                continue
            for status in ERROR_STATUSES:
                assert op["responses"][status]["$ref"].startswith("#/components/responses/")
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"]["name"] == "X-DreamFactory-Api-Key"
    assert schemes["SessionToken"]["name"] == "X-DreamFactory-Session-Token"
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert len(document["security"]) == 3


def test_sql_path_only_with_allow_sql(api: Any, document: dict[str, Any], service: Any) -> None:
    assert "/_sql" not in document["paths"]
    assert {"/_func", "/_proc", "/_schema", "/_schema/{table_name}"} <= set(document["paths"])
    service.allow_sql = True
    service.save()
    status, body = api.get("/api/v2/shop/_spec")
    assert status == 200
    assert "post" in body["paths"]["/_sql"]
    validate(body)


def test_api_docs_answers_the_same_document(api: Any, document: dict[str, Any]) -> None:
    status, body = api.get("/api/v2/api_docs/shop")
    assert status == 200
    assert body == document
    status, listing = api.get("/api/v2/api_docs")
    assert status == 200
    shop = next(s for s in listing["resource"] if s["name"] == "shop")
    assert shop["spec_url"] == "/api/v2/api_docs/shop"


def test_spec_needs_credentials(anon: Any, service: Any) -> None:
    for path in ("/api/v2/shop/_spec", "/api/v2/api_docs/shop", "/api/v2/api_docs"):
        status, body = anon.get(path)
        assert status == 401, path
        assert body["error"]["status_code"] == 401
        assert set(body["error"]) >= {"code", "message", "status_code"}


def test_spec_refuses_writes(api: Any) -> None:
    status, body = api.post("/api/v2/shop/_spec", {})
    assert status == 400
    assert body["error"]["status_code"] == 400


def test_document_follows_schema_changes(api: Any, pg: Any, document: dict[str, Any]) -> None:
    assert table_path("spec_new") not in document["paths"]
    try:
        status, body = api.post(
            "/api/v2/shop/_schema", [{"name": "spec_new", "field": [{"name": "id", "type": "id"}]}]
        )
        assert status in (200, 201), body
        _, after = api.get("/api/v2/shop/_spec")
        assert "/_table/spec_new/{id}" in after["paths"]
        _, again = api.get("/api/v2/api_docs/shop")
        assert "/_table/spec_new" in again["paths"]
    finally:
        pg.execute("DROP TABLE IF EXISTS spec_new")
    _, refreshed = api.get("/api/v2/shop/_spec", refresh="true")
    assert "/_table/spec_new" not in refreshed["paths"]


def test_docs_page_requires_staff(client: Any, service: Any) -> None:
    response = client.get("/docs/shop/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_docs_page_serves_swagger_ui_locally(client: Any, admin_user: Any, service: Any) -> None:
    client.force_login(admin_user)
    response = client.get("/docs/shop/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "swagger-ui.css" in html
    assert "/api/v2/api_docs/shop" in html
    assert 'preauthorizeApiKey("SessionToken"' in html
    assert not re.search(r"https?://", html)
    token = re.search(r'"token": "([^"]+)"', html)
    assert token is not None
    status = client.get(
        "/api/v2/api_docs/shop", headers={"X-DreamFactory-Session-Token": token.group(1)}
    ).status_code
    assert status == 200


# --- property-based: generated GET parameters never cause a 5xx ---------------------------------

_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"),
    max_size=12,
)


def _value(name: str, columns: list[str]) -> st.SearchStrategy[str]:
    column = st.sampled_from(columns)
    op = st.sampled_from(["=", "!=", ">", "<", "like", "is null", "in", "contains", "??"])
    if name == "filter":
        return st.one_of(_TEXT, st.builds(lambda c, o, v: f"({c} {o} '{v}')", column, op, _TEXT))
    if name in ("fields", "order", "id_field", "related", "ids"):
        return st.one_of(
            _TEXT,
            st.lists(column, min_size=1, max_size=3).map(",".join),
            st.builds(lambda c, d: f"{c} {d}", column, st.sampled_from(["asc", "desc", "x"])),
        )
    if name in ("limit", "offset"):
        return st.one_of(st.integers(-5, 10**12).map(str), _TEXT)
    return st.sampled_from(["true", "false", "1", "yes", "nope", ""])


@pytest.mark.slow
def test_generated_get_requests_never_fail_with_5xx(api: Any, document: dict[str, Any]) -> None:
    """Hypothesis (not schemathesis) over the document's GET parameters of a few tables."""
    schemas = record_schemas(document)
    targets = ["todo", "all_types", "Table With Space"]
    cases = []
    for name in targets:
        op = document["paths"][table_path(name)]["get"]
        params = [p["$ref"].rsplit("/", 1)[1] for p in op["parameters"]]
        columns = list(schemas[name]["properties"])
        cases.append(st.tuples(st.just(table_path(name)), _query(params, columns)))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(cases))
    def check(case: tuple[str, dict[str, str]]) -> None:
        path, query = case
        response = api.client.get(f"/api/v2/shop{path}", data=query, headers=api.headers)
        assert response.status_code < 500, (path, query, response.content)
        statuses.add(response.status_code)
        body = response.json()
        if response.status_code >= 400:
            assert body["error"]["status_code"] == response.status_code

    statuses: set[int] = set()
    check()
    assert 200 in statuses and 400 in statuses  # both valid and invalid requests were made


def _query(params: list[str], columns: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={name: _value(name, columns) for name in params})
