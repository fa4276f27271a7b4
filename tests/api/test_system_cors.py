"""`system/cors` records (spec §9.2) and how the gateway applies them (spec §12.1): per path and
origin, on real preflights and simple requests, with the instance settings as the fallback."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.conftest import Api, assert_error, client_for, make_app, make_role

pytestmark = pytest.mark.django_db

C = "/api/v2/system/cors"
TODO = "/api/v2/shop/_table/todo"
APP = "https://app.example.com"
OTHER = "https://other.example.com"


def preflight(path: str, origin: str, method: str, headers: str = "") -> Any:
    extra = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        extra["Access-Control-Request-Headers"] = headers
    return Client().options(path, headers=extra)


def rule(**fields: Any) -> dict[str, Any]:
    record = {"path": "api/v2/shop/*", "origin": APP, "method": ["GET", "POST"]}
    record.update(fields)
    return record


def create(api: Api, *records: dict[str, Any]) -> list[int]:
    status, body = api.post(C, {"resource": list(records)})
    assert status == 201, body
    return [r["id"] for r in body["resource"]]


def test_crud_in_dreamfactorys_shape(api: Api) -> None:
    status, body = api.post(
        C,
        [
            rule(
                description="the shop app",
                header="X-DreamFactory-Api-Key, Content-Type",
                exposed_header="ETag",
                max_age=300,
                supports_credentials=True,
            )
        ],
        fields="*",
    )
    assert status == 201, body
    record = body["resource"][0]
    rid = record["id"]
    assert {k: record[k] for k in record if k not in ("created_date", "last_modified_date")} == {
        "id": rid,
        "path": "api/v2/shop/*",
        "description": "the shop app",
        "origin": APP,
        "header": "X-DreamFactory-Api-Key, Content-Type",
        "exposed_header": "ETag",
        "method": ["GET", "POST"],
        "max_age": 300,
        "supports_credentials": True,
        "enabled": True,
    }
    assert api.get(C)[1]["resource"][0]["id"] == rid
    # method also as DF's mask, or a comma-separated string
    assert api.patch(f"{C}/{rid}", {"method": 17}) == (200, {"id": rid})
    assert api.get(f"{C}/{rid}")[1]["method"] == ["GET", "DELETE"]
    api.patch(f"{C}/{rid}", {"method": "put, patch"})
    assert api.get(f"{C}/{rid}")[1]["method"] == ["PUT", "PATCH"]
    # defaults: every verb, any header, enabled
    [other] = create(api, {"path": "*", "origin": "*"})
    record = api.get(f"{C}/{other}")[1]
    assert record["method"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert (record["header"], record["enabled"], record["max_age"]) == ("*", True, 0)
    assert api.delete(f"{C}/{rid}") == (200, {"id": rid})
    assert_error(*api.get(f"{C}/{rid}"), 404, f"Record with identifier '{rid}' not found.")


def test_bad_records_are_400s_that_say_what_to_fix(api: Api) -> None:
    cases = [
        ({"origin": APP}, "No path specified. Use * to apply to all api paths."),
        ({"path": "*"}, "No origin specified. Use * to allow every origin."),
        (rule(method=["GET", "FETCH"]), "Unknown verb 'FETCH'"),
        (rule(method=99), "method mask 99 is out of range"),
        (rule(path="^api/(unclosed"), "is not a valid regular expression"),
        (rule(max_age="soon"), "max_age"),
    ]
    for record, fragment in cases:
        status, body = api.post(C, [record])
        assert status == 400, (record, body)
        assert fragment in str(body), (fragment, body)
    assert api.get(C)[1] == {"resource": []}


def test_system_cors_is_admin_only(api: Api, service: Any) -> None:
    role = make_role("reader", [{"service": service, "component": "*", "verb_mask": 31}])
    app, key = make_app("web", role)
    status, body = client_for(api_key=key).get(C)
    assert status in (401, 403), body
    assert Client().get(C).status_code == 401


def test_a_matching_record_answers_preflights_and_simple_requests(api: Api) -> None:
    create(
        api,
        rule(
            header="x-dreamfactory-api-key, content-type",
            exposed_header="etag, server-timing",
            max_age=120,
        ),
    )
    response = preflight(TODO, APP, "POST")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Methods"] == "GET, POST"
    assert response["Access-Control-Allow-Headers"] == "x-dreamfactory-api-key, content-type"
    assert response["Access-Control-Max-Age"] == "120"
    assert "Access-Control-Allow-Credentials" not in response
    assert response["Vary"] == "Origin"
    # a method outside the record's list: 405 (spec §12.1)
    assert preflight(TODO, APP, "DELETE").status_code == 405
    # the real request carries the headers, and so does an error answer
    response = api.client.get(TODO, headers={**api.headers, "Origin": APP})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Expose-Headers"] == "etag, server-timing"
    response = Client().get(TODO, headers={"Origin": APP})
    assert response.status_code == 401 and response["Access-Control-Allow-Origin"] == APP
    # another origin, and a path outside the record, get no CORS headers
    assert "Access-Control-Allow-Origin" not in preflight(TODO, OTHER, "GET")
    other = api.client.get(TODO, headers={**api.headers, "Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in other
    assert "Access-Control-Allow-Origin" not in preflight("/api/v2/system/service", APP, "GET")


def test_any_origin_credentials_and_asked_for_headers(api: Api) -> None:
    create(api, rule(path="*", origin="*", supports_credentials=True))
    response = preflight(TODO, OTHER, "GET", headers="x-dreamfactory-session-token")
    # with credentials the origin is echoed (a browser refuses `*` with credentials)
    assert response["Access-Control-Allow-Origin"] == OTHER
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert response["Access-Control-Allow-Headers"] == "x-dreamfactory-session-token"
    assert "Access-Control-Max-Age" not in response
    response = api.client.get(TODO, headers={**api.headers, "Origin": OTHER})
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Expose-Headers" not in response


def test_the_longest_matching_path_wins_and_origins_are_lists(api: Api) -> None:
    create(
        api,
        rule(path="*", origin="*", method=["GET"]),
        rule(path="api/v2/shop/_table/*", origin=f"{OTHER}, {APP}/", method=["PATCH"]),
        rule(path="^api/v2/shop/_table/todo$", origin=APP, method=["DELETE"]),
    )
    # the regex is the longest pattern matching /_table/todo; the glob covers other tables
    assert preflight(TODO, APP, "DELETE").status_code == 204
    assert preflight(TODO, APP, "PATCH").status_code == 405
    orders = "/api/v2/shop/_table/orders"
    assert preflight(orders, OTHER, "PATCH")["Access-Control-Allow-Methods"] == "PATCH"
    assert preflight(orders, APP, "PATCH")["Access-Control-Allow-Origin"] == APP
    # OTHER is not in the regex record's origins: the next matching record serves it
    assert preflight(TODO, OTHER, "PATCH").status_code == 204
    response = preflight("/api/v2/system/role", OTHER, "GET")
    assert (response.status_code, response["Access-Control-Allow-Origin"]) == (204, "*")


def test_a_disabled_record_stops_applying(api: Api) -> None:
    [rid] = create(api, rule())
    assert preflight(TODO, APP, "GET")["Access-Control-Allow-Origin"] == APP
    assert api.patch(f"{C}/{rid}", {"enabled": False}) == (200, {"id": rid})
    response = preflight(TODO, APP, "GET")
    assert response.status_code == 204 and "Access-Control-Allow-Origin" not in response
    response = api.client.get(TODO, headers={**api.headers, "Origin": APP})
    assert "Access-Control-Allow-Origin" not in response
    api.patch(f"{C}/{rid}", {"enabled": True})
    assert preflight(TODO, APP, "GET")["Access-Control-Allow-Origin"] == APP
    api.delete(f"{C}/{rid}")
    assert "Access-Control-Allow-Origin" not in preflight(TODO, APP, "GET")


@override_settings(CORS_ALLOWED_ORIGINS=[OTHER], CORS_ALLOWED_METHODS=["GET"])
def test_the_instance_settings_are_the_fallback(api: Api) -> None:
    create(api, rule())
    # a path no record matches: the instance settings apply
    response = preflight("/api/v2/system/service", OTHER, "GET")
    assert response["Access-Control-Allow-Origin"] == OTHER
    # where a record matches the path, the records decide
    assert "Access-Control-Allow-Origin" not in preflight(TODO, OTHER, "GET")
    assert preflight(TODO, APP, "POST").status_code == 204


def test_changes_from_another_process_arrive_through_the_version_stamp(
    api: Api, settings: Any
) -> None:
    """A record written by another process (here: a bulk insert, which sends no signal, and a
    bump of the version row as the signal does) applies once this process polls; between
    changes, no query is made."""
    from core.metadata import stamp
    from core.models import CorsRule, MetadataVersion

    assert "Access-Control-Allow-Origin" not in preflight(TODO, APP, "GET")
    settings.GATEWAY_METADATA_POLL_SECONDS = 3600
    CorsRule.objects.bulk_create([CorsRule(path="*", origin=APP, method=1)])  # no signal
    version = MetadataVersion.objects.get(pk=1).version
    MetadataVersion.objects.filter(pk=1).update(version=version + 1)
    # not polled yet: the snapshot still serves, without reading the database
    with CaptureQueriesContext(connection) as queries:
        assert "Access-Control-Allow-Origin" not in preflight(TODO, APP, "GET")
    assert len(queries) == 0
    settings.GATEWAY_METADATA_POLL_SECONDS = 0
    assert preflight(TODO, APP, "GET")["Access-Control-Allow-Origin"] == APP
    settings.GATEWAY_METADATA_POLL_SECONDS = 3600
    stamp.poll()
    with CaptureQueriesContext(connection) as queries:
        assert preflight(TODO, APP, "GET")["Access-Control-Allow-Origin"] == APP
    assert len(queries) == 0


@pytest.mark.django_db(databases=["default", "audit"])
def test_records_apply_on_the_production_wsgi_entry(api: Api, admin_token: str) -> None:
    from tests.api.test_wsgi_entry import wsgi_call

    create(api, rule(exposed_header="etag"))
    status, headers, _ = wsgi_call(
        "OPTIONS", TODO, headers={"Origin": APP, "Access-Control-Request-Method": "POST"}
    )
    assert status.startswith("204") and headers["Access-Control-Allow-Origin"] == APP
    status, headers, _ = wsgi_call(
        "GET", TODO, headers={"X-DreamFactory-Session-Token": admin_token, "Origin": APP}
    )
    assert status.startswith("200")
    assert (headers["Access-Control-Allow-Origin"], headers["Access-Control-Expose-Headers"]) == (
        APP,
        "etag",
    )
