"""CORS per instance (spec §12.1) and the security headers of every API answer, on both the
Django path (test client) and the production WSGI entry."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings

from tests.api.test_wsgi_entry import wsgi_call

# gateway.wsgi checks the audit store when it is first imported
pytestmark = pytest.mark.django_db(databases=["default", "audit"])

TODO = "/api/v2/shop/_table/todo"
APP = "https://app.example.com"


def _preflight(path: str, origin: str, method: str) -> Any:
    return Client().options(
        path, headers={"Origin": origin, "Access-Control-Request-Method": method}
    )


def test_no_cors_headers_unless_origins_are_configured(api: Any) -> None:
    response = _preflight(TODO, APP, "GET")
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response
    response = api.client.get(TODO, headers={**api.headers, "Origin": APP})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[APP])
def test_an_allowed_origin_gets_preflight_and_response_headers(api: Any) -> None:
    response = _preflight(TODO, APP, "PATCH")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == APP
    assert "PATCH" in response["Access-Control-Allow-Methods"]
    allowed = response["Access-Control-Allow-Headers"]
    assert "x-dreamfactory-api-key" in allowed and "x-dreamfactory-session-token" in allowed
    assert response["Vary"] == "Origin"
    response = api.client.get(TODO, headers={**api.headers, "Origin": APP})
    assert response["Access-Control-Allow-Origin"] == APP
    assert "server-timing" in response["Access-Control-Expose-Headers"]
    # an error answer carries them too, so the browser lets the app read the envelope
    response = Client().get(TODO, headers={"Origin": APP})
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP


@override_settings(CORS_ALLOWED_ORIGINS=[APP], CORS_ALLOWED_METHODS=["GET"])
def test_a_method_outside_the_list_is_405_and_other_origins_get_nothing(api: Any) -> None:
    assert _preflight(TODO, APP, "DELETE").status_code == 405
    response = _preflight(TODO, "https://evil.example.com", "GET")
    assert "Access-Control-Allow-Origin" not in response
    response = api.client.get(TODO, headers={**api.headers, "Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=["*"])
def test_any_origin_and_the_system_api(admin_token: str) -> None:
    response = _preflight("/api/v2/system/service", APP, "GET")
    assert response["Access-Control-Allow-Origin"] == "*"
    status, headers, _ = wsgi_call(
        "GET",
        TODO,
        headers={"X-DreamFactory-Session-Token": admin_token, "Origin": APP},
    )
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_security_headers_on_every_api_answer(api: Any, service: Any) -> None:
    for response in (
        api.client.get(TODO, headers=api.headers),
        Client().get(TODO),
        Client().get("/api/v2/system/environment"),
    ):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "no-referrer"
    status, headers, _ = wsgi_call("GET", TODO, headers=api.headers)
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_keys_tokens_and_passwords_never_reach_the_log(
    service: Any, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Refusals, failed logins and server-side errors log the path, never the credentials."""
    from tests.conftest import make_app, make_role

    role = make_role(
        "broken",
        [
            {
                "service": service,
                "component": "_table/*",
                "verb_mask": 1,
                "filters": [{"name": "no_such_column", "operator": "=", "value": "1"}],
            }
        ],
    )
    _app, key = make_app("logged app", role)
    secret_password = "a-password-nobody-should-see"
    caplog.set_level("DEBUG")
    client = Client()
    client.get(f"{TODO}?api_key={key}")  # 500: the role's filter names no column of todo
    client.get(f"{TODO}?api_key={key[:-1]}0&session_token={admin_token}x")
    client.post(
        "/api/v2/user/session",
        data={"email": "nobody@example.com", "password": secret_password},
        content_type="application/json",
    )
    assert caplog.records, "the refusals were logged"
    text = caplog.text
    for secret in (key, key[:-1], admin_token, secret_password):
        assert secret not in text
