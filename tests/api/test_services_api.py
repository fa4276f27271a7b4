"""The system API for services: DF record format, validation, secrets, test connection, pools."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests.conftest import Api, assert_batch_error, service_kwargs

pytestmark = pytest.mark.django_db

S = "/api/v2/system/service"


@pytest.fixture
def admin(admin_token: str, seeded: dict[str, Any]) -> Api:
    return Api(Client(), {"X-DreamFactory-Session-Token": admin_token})


def record(db: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    kw = service_kwargs(db)
    config = {k: kw[k] for k in ("host", "port", "database", "username", "password", "schema")}
    config["sslmode"] = kw["sslmode"]
    rec = {"name": "shop", "label": "Shop", "type": "pgsql", "config": config}
    rec.update(overrides)
    return rec


def test_create_list_get_patch_delete(admin: Api, seeded: dict[str, Any]) -> None:
    status, body = admin.post(S, {"resource": [record(seeded, description="Orders")]})
    assert status == 201
    sid = body["resource"][0]["id"]
    assert body == {"resource": [{"id": sid}]}
    status, body = admin.get(S)
    assert [s["name"] for s in body["resource"]] == ["shop"]
    status, one = admin.get(f"{S}/{sid}")
    assert one["label"] == "Shop" and one["type"] == "pgsql" and one["is_active"] is True
    assert one["config"]["database"] == seeded["dbname"]
    status, body = admin.patch(f"{S}/{sid}", {"label": "Renamed", "config": {"max_records": 3}})
    assert (status, body) == (200, {"id": sid})
    assert admin.get(f"{S}/{sid}")[1]["config"]["max_records"] == 3
    # the data API answers at once under the new settings
    status, rows = admin.get("/api/v2/shop/_table/todo", fields="id")
    assert status == 200 and len(rows["resource"]) == 3 and rows["meta"]["count"] == 5
    assert admin.delete(f"{S}/{sid}") == (200, {"id": sid})
    assert admin.get("/api/v2/shop/_table/todo")[0] == 404


def test_post_needs_a_list_and_fields_returns_more(admin: Api, seeded: dict[str, Any]) -> None:
    status, body = admin.post(S, record(seeded))
    assert status == 400 and body["error"]["message"].startswith("No record(s) detected")
    status, body = admin.post(f"{S}?fields=name,label", [record(seeded)])
    assert status == 201 and body == {"resource": [{"name": "shop", "label": "Shop"}]}


def test_password_is_encrypted_at_rest_and_never_returned(
    admin: Api, seeded: dict[str, Any]
) -> None:
    from django.db import connection

    rec = record(seeded)
    rec["config"]["password"] = "s3cret-pass-word"
    status, body = admin.post(S, [rec], fields="*")
    assert status == 201
    assert body["resource"][0]["config"]["password"] == "**********"
    sid = body["resource"][0]["id"]
    with connection.cursor() as cur:
        cur.execute("SELECT password FROM services_service WHERE id = %s", [sid])
        stored = cur.fetchone()[0]
    assert "s3cret" not in stored and stored.startswith("fernet:")
    # writing the mask back keeps the stored password
    admin.patch(f"{S}/{sid}", {"config": {"password": "**********", "max_records": 7}})
    from services.models import Service

    assert Service.objects.get(pk=sid).password == "s3cret-pass-word"
    for status_body in (admin.get(S), admin.get(f"{S}/{sid}")):
        assert "s3cret" not in str(status_body[1])


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Shop", "lower-case"),
        ("shop-1", "lower-case"),
        ("system", "reserved"),
        ("user", "reserved"),
        ("api_docs", "reserved"),
        ("", "name"),
    ],
)
def test_namespace_validation(admin: Api, seeded: dict[str, Any], name: str, fragment: str) -> None:
    status, body = admin.post(S, [record(seeded, name=name)])
    assert fragment in assert_batch_error(status, body, 0, "", prefix=True)["message"]


def test_bad_config_values_are_400(admin: Api, seeded: dict[str, Any]) -> None:
    rec = record(seeded)
    rec["config"]["port"] = "abc"
    assert admin.post(S, [rec])[0] == 400
    rec = record(seeded, type="mysql")
    status, body = admin.post(S, [rec])
    assert "pgsql" in assert_batch_error(status, body, 0, "", prefix=True)["message"]
    rec = record(seeded)
    rec["config"].update(pool_min=5, pool_max=2)
    assert admin.post(S, [rec])[0] == 400
    rec = record(seeded)
    rec["config"]["sslmode"] = "sometimes"
    assert admin.post(S, [rec])[0] == 400


def test_system_api_requires_an_admin(anon: Api, seeded: dict[str, Any]) -> None:
    status, body = anon.get(S)
    assert status == 401
    assert body["error"]["message"].startswith("No session token (JWT) or API Key detected")
    status, body = anon.post(S, [record(seeded)])
    assert status == 401


def _create(admin: Api, seeded: dict[str, Any], **config: Any) -> int:
    rec = record(seeded)
    rec["config"].update(config)
    status, body = admin.post(S, [rec])
    assert status == 201, body
    return int(body["resource"][0]["id"])


def test_test_connection_success_reports_version(admin: Api, seeded: dict[str, Any]) -> None:
    sid = _create(admin, seeded)
    status, body = admin.post(f"{S}/{sid}/_test")
    assert status == 200 and body["success"] is True
    assert body["server_version"].startswith("PostgreSQL")


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (to provoke a timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_test_connection_classifies_failures(
    admin: Api, seeded: dict[str, Any], silent_port: int, settings: Any
) -> None:
    settings.GATEWAY_CONNECT_TIMEOUT = 1
    sid = _create(admin, seeded)
    cases = [
        ({"port": 1}, "connection_refused", "Connection refused"),
        ({"database": "no_such_db"}, "database_not_found", "does not exist"),
        ({"username": "no_such_role"}, "role_not_found", "user does not exist"),
        ({"sslmode": "require"}, "ssl_not_supported", "does not support SSL"),
        ({"host": "no.such.host.invalid"}, "unknown_host", "Unknown host"),
        ({"port": silent_port}, "timeout", "Timed out"),
    ]
    if str(seeded.get("host", "")).startswith("/"):
        cases = cases[1:3]  # the embedded server listens on a socket only
    for config, kind, fragment in cases:
        status, body = admin.post(f"{S}/{sid}/_test", {"config": config})
        assert status == 503, (config, body)
        assert body["error"]["context"]["reason"] == kind, (config, body)
        assert fragment in body["error"]["message"], (config, body)


def test_unreachable_database_is_503_without_secrets(admin: Api, seeded: dict[str, Any]) -> None:
    _create(admin, seeded, port=1, password="top-secret-pw")
    status, body = admin.get("/api/v2/shop/_table/todo")
    assert status == 503
    assert body["error"]["context"]["reason"] == "connection_refused"
    assert "top-secret-pw" not in str(body)


def test_pool_is_rebuilt_when_credentials_change(admin: Api, seeded: dict[str, Any]) -> None:
    from services.registry import registry

    sid = _create(admin, seeded)
    assert admin.get("/api/v2/shop/_table/todo/1")[0] == 200
    first_pool = registry.get("shop").pool
    admin.patch(f"{S}/{sid}", {"config": {"username": "no_such_role"}})
    status, body = admin.get("/api/v2/shop/_table/todo/1")
    assert status == 503 and body["error"]["context"]["reason"] == "role_not_found"
    admin.patch(f"{S}/{sid}", {"config": {"username": service_kwargs(seeded)["username"]}})
    assert admin.get("/api/v2/shop/_table/todo/1")[0] == 200
    assert registry.get("shop").pool is not first_pool
    # a label change keeps the pool
    pool = registry.get("shop").pool
    admin.patch(f"{S}/{sid}", {"label": "Only the label"})
    assert admin.get("/api/v2/shop/_table/todo/1")[0] == 200
    assert registry.get("shop").pool is pool


def test_deactivated_service_is_403_and_directory(admin: Api, seeded: dict[str, Any]) -> None:
    sid = _create(admin, seeded)
    status, body = admin.get("/api/v2")
    assert [s["name"] for s in body["services"]] == ["shop"]
    assert body["service_types"][0]["name"] == "pgsql"
    admin.patch(f"{S}/{sid}", {"is_active": False})
    status, body = admin.get("/api/v2/shop/_table")
    assert status == 403 and body["error"]["message"] == "Service shop is deactivated."
    assert admin.get("/api/v2/shop")[0] == 403


def test_service_root_lists_resources(admin: Api, seeded: dict[str, Any]) -> None:
    _create(admin, seeded)
    assert admin.get("/api/v2/shop") == (
        200,
        {
            "resource": [
                {"name": "_schema"},
                {"name": "_table"},
                {"name": "_proc"},
                {"name": "_func"},
            ]
        },
    )
    assert admin.get("/api/v2/shop", as_list="true")[1] == {
        "resource": ["_schema", "_table", "_proc", "_func"]
    }
    status, body = admin.get("/api/v2/shop/_foo")
    assert status == 404


def test_system_api_openapi_document_is_served(anon: Api) -> None:
    response = anon.client.get("/openapi/system.json?format=json")
    assert response.status_code == 200
    document = response.json()
    assert "/api/v2/system/service" in document["paths"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["SessionToken"]["name"] == "X-DreamFactory-Session-Token"
