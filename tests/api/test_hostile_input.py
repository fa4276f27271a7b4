"""Hostile input gets a 4xx in the error envelope, naming what is wrong, never a 500 (issue #10):
lone surrogates, over-deep JSON, unknown methods, bad offsets, oversized URLs, invalid
test-connection settings, and database errors the gateway had no entry for (a view that cannot
be written through). The server-level cases (chunked bodies, long URLs through granian) are in
tests/faults/test_http_edges.py.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Api, assert_error, make_role

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
LONE = '"\\ud800"'  # the JSON text of a string holding a lone high surrogate
SURROGATE = "lone UTF-16 surrogate"


def _raw(api: Api, method: str, path: str, text: str) -> tuple[int, Any]:
    return api.call(method, path, raw=text.encode())


@pytest.mark.parametrize(
    ("method", "path", "text", "where"),
    [
        ("POST", f"{T}/todo", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("PATCH", f"{T}/todo/1", '{"name": %s}', "name"),
        ("PUT", f"{T}/todo?filter=id%3D1", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/shop/_func/echo_text", '{"params": {"p_value": %s}}', "params.p_value"),
        ("POST", "/api/v2/shop/_schema", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/system/service", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/system/role", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/system/app", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/system/user", '{"resource": [{"email": %s}]}', "resource[0].email"),
        ("POST", "/api/v2/system/limit", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("PATCH", "/api/v2/system/role/{role}", '{"description": %s}', "description"),
        ("PATCH", "/api/v2/system/role?ids={role}", '{"description": %s}', "description"),
        ("POST", "/api/v2/system/lookup", '{"resource": [{"name": %s}]}', "resource[0].name"),
        ("POST", "/api/v2/system/cors", '{"resource": [{"path": %s}]}', "resource[0].path"),
        ("POST", "/api/v2/system/admin", '{"resource": [{"email": %s}]}', "resource[0].email"),
        (
            "POST",
            "/api/v2/system/service",
            '{"resource": [{"name": "corp", "type": "ldap", "config": {"host": %s}}]}',
            "resource[0].config.host",
        ),
        ("POST", "/api/v2/system/import", '{"roles": [{"name": %s}]}', "roles[0].name"),
    ],
)
def test_a_lone_surrogate_is_refused_where_it_is(
    api: Api, method: str, path: str, text: str, where: str
) -> None:
    role = make_role("surrogates", [])
    status, body = _raw(api, method, path.format(role=role.pk), text.replace("%s", LONE))
    error = assert_error(status, body, 400, "Invalid string in request body at", prefix=True)
    assert SURROGATE in error["message"] and f"at {where}:" in error["message"]


@pytest.mark.parametrize("path", ["/api/v2/system/admin/session", "/api/v2/user/session"])
def test_a_lone_surrogate_in_a_login_is_refused_without_credentials(anon: Api, path: str) -> None:
    status, body = _raw(anon, "POST", path, '{"email": %s, "password": "x"}'.replace("%s", LONE))
    error = assert_error(status, body, 400, "Invalid string in request body at email", prefix=True)
    assert SURROGATE in error["message"]


def test_a_surrogate_pair_is_a_character(api: Api, pg: Any) -> None:
    status, body = _raw(api, "POST", f"{T}/todo?fields=name", '[{"name": "\\ud83d\\ude00"}]')
    assert status == 200, body
    assert body["resource"] == [{"name": "\U0001f600"}]


def test_nan_is_not_json(api: Api) -> None:
    status, body = _raw(api, "POST", f"{T}/all_types", '[{"num": NaN}]')
    assert_error(status, body, 400, "Malformed JSON in request body: NaN is not", prefix=True)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [101, 400, 900])
def test_over_deep_values_are_refused_naming_the_field(api: Api, pg: Any, depth: int) -> None:
    status, body = _raw(
        api, "POST", f"{T}/all_types", '[{"jsb": %s}]'.replace("%s", _nested(depth))
    )
    error = assert_error(status, body, 400, "Batch Error:", prefix=True)
    assert error["context"]["resource"][0]["message"] == (
        "Field 'jsb' nests objects and arrays more than 100 levels deep; flatten the value."
    )
    assert pg.execute("SELECT count(*) FROM all_types WHERE jsb IS NOT NULL").fetchone() == (0,)


def test_a_deep_function_argument_is_refused(api: Api) -> None:
    status, body = _raw(
        api,
        "POST",
        "/api/v2/shop/_func/echo_json",
        '{"params": {"p_doc": %s}}'.replace("%s", _nested(300)),
    )
    error = assert_error(status, body, 400, "Failed to call database stored function.", prefix=True)
    assert "Parameter 'p_doc' nests objects and arrays more than 100 levels" in error["message"]


def test_json_nested_past_the_parser_is_refused(api: Api) -> None:
    status, body = _raw(api, "POST", f"{T}/all_types", "[" * 100_000 + "]" * 100_000)
    assert_error(status, body, 400, "Malformed JSON in request body: it is nested too deeply.")


def test_a_value_at_the_limit_is_stored(api: Api, pg: Any) -> None:
    status, body = _raw(api, "POST", f"{T}/all_types", '[{"jsb": %s}]'.replace("%s", _nested(99)))
    assert status == 200, body


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO"])
def test_unknown_methods_are_405_with_allow(api: Api, method: str) -> None:
    response = Client().generic(method, f"{T}/todo", headers=api.headers)
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST, PUT, PATCH, DELETE"
    body = response.json()
    assert body["error"]["status_code"] == 405
    assert body["error"]["message"].startswith(f"Method {method} is not allowed here")


def test_unknown_methods_on_the_system_api_are_405(api: Api) -> None:
    response = Client().generic("TRACE", "/api/v2/system/service", headers=api.headers)
    assert response.status_code == 405
    assert response.json()["error"]["status_code"] == 405


def test_head_reads_like_get(api: Api) -> None:
    response = Client().head(f"{T}/todo/1", headers=api.headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_limit_follows_dreamfactory_junk_and_negative_mean_the_maximum(
    api: Api, service: Any
) -> None:
    service.max_records = 3
    service.save()
    for value in ("abc", "-5", "0", "99999999999999999999999999"):
        status, body = api.get(f"{T}/todo", limit=value, include_count="true")
        assert status == 200, (value, body)
        assert len(body["resource"]) == 3 and body["meta"]["next"] == 3, value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "offset must be 0 or more (the rows to skip), not -1."),
        ("99999999999999999999", "offset may be at most 9223372036854775807."),
    ],
)
def test_negative_or_huge_offsets_are_400_naming_offset(api: Api, value: str, message: str) -> None:
    status, body = api.get(f"{T}/todo", offset=value)
    error = assert_error(status, body, 400, message)
    assert error["context"] == {"param": "offset"}


def test_a_junk_offset_counts_as_zero_as_in_dreamfactory(api: Api) -> None:
    assert api.get(f"{T}/todo", offset="abc", fields="id")[1]["resource"][0] == {"id": 1}


def test_an_oversized_url_is_414_in_the_envelope(api: Api, settings: Any) -> None:
    settings.GATEWAY_MAX_URL_BYTES = 2000
    status, body = api.get(f"{T}/todo", filter="name='" + "x" * 2100 + "'")
    error = assert_error(status, body, 414, "The request URL is", prefix=True)
    assert "the limit is 2000 bytes" in error["message"]
    assert "X-HTTP-Method: GET" in error["message"]
    status, body = api.get(f"{T}/todo", filter="name='" + "x" * 100 + "'")
    assert status == 200


@pytest.mark.parametrize(
    ("config", "field"),
    [({"port": "abc"}, "port"), ({"sslmode": "bogus"}, "sslmode"), ({"port": 70000}, "port")],
)
def test_test_connection_validates_its_settings_like_patch(
    api: Api, service: Any, config: dict[str, Any], field: str
) -> None:
    status, body = api.post(f"/api/v2/system/service/{service.pk}/_test", {"config": config})
    error = assert_error(status, body, 400, "Validation failed:", prefix=True)
    assert field in error["context"]["fields"]


def test_a_view_that_cannot_be_written_says_why(api: Api, pg: Any) -> None:
    status, body = api.post(f"{T}/order_totals", {"resource": [{"customer_id": 1, "orders": 2}]})
    assert_error(status, body, 400, "Batch Error:", prefix=True)
    error = body["error"]["context"]["resource"][0]
    assert error["message"] == (
        'Cannot insert into view "order_totals": views containing GROUP BY are not '
        "automatically updatable."
    )
    assert (error["code"], error["status_code"]) == ("55000", 400)


def test_views_that_cannot_be_written_are_read_only_everywhere(api: Api) -> None:
    status, body = api.get(T, fields="*", ids="order_totals,big_orders")
    access = {t["name"]: t["access"] for t in body["resource"]}
    assert access == {
        "big_orders": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "order_totals": ["GET"],
    }
    status, body = api.get("/api/v2/shop/_schema/order_totals")
    assert status == 200 and body["access"] == 1  # GET only
    status, body = api.get("/api/v2/shop/_schema", fields="*", ids="order_totals")
    assert body["resource"][0]["access"] == 1


def test_an_sqlstate_without_an_entry_answers_by_its_class(api: Api, service: Any) -> None:
    service.allow_sql = True
    service.save()
    status, body = api.post(
        "/api/v2/shop/_sql",
        {"query": "SELECT customer_id, sum(total) FROM orders GROUP BY customer_id FOR UPDATE"},
    )
    error = assert_error(status, body, 400, "FOR UPDATE is not allowed", prefix=True)
    assert error["code"] == "0A000"
    assert "SELECT" not in error["message"]  # PostgreSQL's reason, never the statement


def test_every_5xx_writes_one_line_naming_its_cause(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    from services.models import Service

    Service.objects.filter(name="shop").update(port=70000)  # a hand edit gone wrong
    with caplog.at_level(logging.INFO):
        status, body = api.get(f"{T}/todo", headers={"X-Request-ID": "req-42"})
    assert status == 503
    lines = [r for r in caplog.records if r.name == "gateway.failures"]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["status"] == 503 and fields["service"] == "shop"
    assert fields["cause"] == "ServiceUnavailable" and fields["told"] == body["error"]["message"]
    assert lines[0].request_id == "req-42"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.name == "django.request"]
