"""The production WSGI entry: data paths skip Django's handler but answer the same way."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pytest

# gateway.wsgi checks the audit store when it is first imported
pytestmark = pytest.mark.django_db(databases=["default", "audit"])


def wsgi_call(
    method: str,
    path: str,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], Any]:
    from gateway.wsgi import application

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": "application/json",
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured["status"] = status
        captured["headers"] = dict(response_headers)

    raw = b"".join(application(environ, start_response))
    return captured["status"], captured["headers"], orjson.loads(raw) if raw else None


def test_data_api_through_the_wsgi_entry(admin_token: str, service: Any) -> None:
    auth = {"X-DreamFactory-Session-Token": admin_token}
    status, headers, body = wsgi_call("GET", "/api/v2/shop/_table/todo/1", headers=auth)
    assert status == "200 OK"
    assert body == {"id": 1, "name": "test1", "complete": False}
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(orjson.dumps(body))
    assert "db;dur=" in headers["Server-Timing"]
    status, _, body = wsgi_call(
        "POST", "/api/v2/shop/_table/todo", body=b'[{"name":"via wsgi"}]', headers=auth
    )
    assert (status, body) == ("200 OK", {"resource": [{"id": 6}]})
    status, _, body = wsgi_call(
        "GET", "/api/v2/shop/_table/todo", query="filter=id%3D6", headers=auth
    )
    assert body["resource"][0]["name"] == "via wsgi"


def test_errors_and_other_paths_through_the_wsgi_entry(admin_token: str, service: Any) -> None:
    status, _, body = wsgi_call("GET", "/api/v2/shop/_table/todo")
    assert status == "401 Unauthorized" and body["error"]["status_code"] == 401
    status, _, body = wsgi_call(
        "GET", "/api/v2/shop/_table/nope", headers={"X-DreamFactory-Session-Token": admin_token}
    )
    assert status == "404 Not Found"
    status, _, body = wsgi_call("GET", "/health")
    assert (status, body) == ("200 OK", {"status": "ok"})
    status, _, body = wsgi_call("GET", "/api/v2/system/service")
    assert status == "401 Unauthorized"
