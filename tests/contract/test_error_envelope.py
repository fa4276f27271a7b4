"""The error envelope (spec §6.1) is the same for every failure of both APIs:
`{"error": {"code", "context", "message", "status_code"}}`, nothing else at the top level,
`status_code` equal to the HTTP status, a non-empty plain-text message, served as JSON.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from django.conf import settings
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
TODO = f"{T}/todo"
SYSTEM = "/api/v2/system"
LOGIN = f"{SYSTEM}/admin/session"
RAW = object()  # marks a body given as raw bytes in the case's `body` slot


def q(text: str) -> str:
    return quote(text, safe="")


# (id, caller, method, path, query, body, expected status)
# caller: admin | anon | expired | forged | inactive (admin on a deactivated service) | tiny
# (admin with a 1000-byte body limit). A body of (RAW, b"...") is sent as is.
CASES: list[tuple[str, str, str, str, dict[str, str], Any, int]] = [
    # data API: resolution
    ("unknown-service", "admin", "GET", "/api/v2/nope/_table/todo", {}, None, 404),
    ("unknown-table", "admin", "GET", f"{T}/nope", {}, None, 404),
    ("unknown-resource", "admin", "GET", "/api/v2/shop/_nope", {}, None, 404),
    ("record-path-too-deep", "admin", "GET", f"{TODO}/1/2", {}, None, 404),
    ("missing-record", "admin", "GET", f"{TODO}/99", {}, None, 404),
    ("missing-record-delete", "admin", "DELETE", f"{TODO}/99", {}, None, 404),
    ("missing-record-patch", "admin", "PATCH", f"{TODO}/99", {}, {"name": "x"}, 404),
    ("spec-post", "admin", "POST", "/api/v2/shop/_spec", {}, None, 400),
    ("inactive-service", "inactive", "GET", TODO, {}, None, 403),
    # data API: options
    ("unknown-field", "admin", "GET", TODO, {"fields": "nope"}, None, 400),
    ("unknown-order-field", "admin", "GET", TODO, {"order": "nope"}, None, 400),
    ("semicolon-in-order", "admin", "GET", TODO, {"order": q("id;")}, None, 400),
    ("unparsable-filter", "admin", "GET", TODO, {"filter": q("((")}, None, 400),
    ("unknown-filter-field", "admin", "GET", TODO, {"filter": q("nope = 1")}, None, 400),
    ("filter-injection", "admin", "GET", TODO, {"filter": q("name='x' OR 1=1")}, None, 400),
    ("bad-integer-key", "admin", "GET", f"{TODO}/abc", {}, None, 400),
    ("missing-ids", "admin", "GET", TODO, {"ids": "1,99"}, None, 400),
    ("unknown-relationship", "admin", "GET", TODO, {"related": "nope"}, None, 400),
    ("no-primary-key", "admin", "GET", f"{T}/no_pk/1", {}, None, 400),
    ("method-override", "admin", "POST", TODO, {"method": "FOO"}, None, 400),
    ("post-to-service-root", "admin", "POST", "/api/v2/shop", {}, None, 400),
    # data API: bodies and writes
    ("malformed-json", "admin", "POST", TODO, {}, (RAW, b"{bad"), 400),
    ("deeply-nested-json", "admin", "POST", TODO, {}, (RAW, b"[" * 50_000 + b"]" * 50_000), 400),
    ("bare-object", "admin", "POST", TODO, {}, {"name": "x"}, 400),
    ("empty-list", "admin", "POST", TODO, {}, [], 400),
    ("post-by-id", "admin", "POST", f"{TODO}/1", {}, [{"name": "x"}], 400),
    (
        "continue-and-rollback",
        "admin",
        "POST",
        TODO,
        {"continue": "true", "rollback": "true"},
        [{"name": "x"}],
        400,
    ),
    ("delete-nothing", "admin", "DELETE", TODO, {}, None, 400),
    ("empty-patch-by-id", "admin", "PATCH", f"{TODO}/1", {}, {}, 400),
    ("unique-violation", "admin", "POST", TODO, {}, [{"name": "test1"}], 400),
    ("fk-violation", "admin", "POST", f"{T}/orders", {}, [{"customer_id": 999}], 400),
    ("not-null", "admin", "POST", TODO, {}, [{"name": None}], 400),
    (
        "check-violation",
        "admin",
        "POST",
        f"{T}/order_items",
        {},
        [{"order_id": 1, "sku": "x", "qty": 0}],
        400,
    ),
    ("bad-integer-value", "admin", "POST", f"{T}/all_types", {}, [{"i4": "abc"}], 400),
    ("bad-date-value", "admin", "POST", f"{T}/all_types", {}, [{"d": "someday"}], 400),
    ("unique-violation-by-id", "admin", "PATCH", f"{TODO}/1", {}, {"name": "test2"}, 400),
    ("body-too-large", "tiny", "POST", TODO, {}, [{"name": "x" * 2000}], 413),
    # data API: credentials
    ("no-credentials", "anon", "GET", TODO, {}, None, 401),
    ("no-credentials-unknown-service", "anon", "GET", "/api/v2/nope/_table", {}, None, 401),
    ("expired-token", "expired", "GET", TODO, {}, None, 401),
    ("forged-token", "forged", "GET", TODO, {}, None, 401),
    # system API
    (
        "login-bad-password",
        "anon",
        "POST",
        LOGIN,
        {},
        {"email": "admin@example.com", "password": "wrong-password"},
        401,
    ),
    ("login-unknown-user", "anon", "POST", LOGIN, {}, {"email": "x@y.z", "password": "p"}, 401),
    ("login-missing-email", "anon", "POST", LOGIN, {}, {"password": "whatever"}, 400),
    ("login-missing-password", "anon", "POST", LOGIN, {}, {"email": "admin@example.com"}, 400),
    ("login-malformed-json", "anon", "POST", LOGIN, {}, (RAW, b"{bad"), 400),
    (
        "login-body-too-large",
        "tiny",
        "POST",
        LOGIN,
        {},
        {"email": "a@b.c", "password": "x" * 2000},
        413,
    ),
    ("session-without-token", "anon", "GET", LOGIN, {}, None, 404),
    ("services-no-credentials", "anon", "GET", f"{SYSTEM}/service", {}, None, 401),
    ("services-expired-token", "expired", "GET", f"{SYSTEM}/service", {}, None, 401),
    ("services-forged-token", "forged", "GET", f"{SYSTEM}/service", {}, None, 401),
    ("service-not-found", "admin", "GET", f"{SYSTEM}/service/999", {}, None, 404),
    ("service-patch-not-found", "admin", "PATCH", f"{SYSTEM}/service/999", {}, {"label": "x"}, 404),
    ("service-test-not-found", "admin", "POST", f"{SYSTEM}/service/999/_test", {}, None, 404),
    ("service-bare-object", "admin", "POST", f"{SYSTEM}/service", {}, {"name": "x"}, 400),
    ("service-invalid", "admin", "POST", f"{SYSTEM}/service", {}, [{"name": "x"}], 400),
    ("service-collection-delete", "admin", "DELETE", f"{SYSTEM}/service", {}, None, 400),
    ("unknown-system-path", "admin", "GET", f"{SYSTEM}/nope", {}, None, 404),
    ("unknown-system-path-anon", "anon", "GET", f"{SYSTEM}/nope", {}, None, 404),
]


def _token(user: Any, *, secret: str, expired: bool) -> str:
    now = int(time.time())
    start = now - 7200 if expired else now
    claims = {
        "iss": "http://testserver/api/v2/system/admin/session",
        "iat": start,
        "nbf": start,
        "exp": start + 60 if expired else now + 3600,
        "jti": "f" * 32,
        "sub": hashlib.md5(user.email.encode(), usedforsecurity=False).hexdigest(),
        "user_id": user.pk,
        "forever": False,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def _headers(caller: str, admin_token: str, admin_user: Any, service: Any) -> dict[str, str]:
    if caller == "anon":
        return {}
    if caller == "expired":
        token = _token(admin_user, secret=settings.JWT_SECRET, expired=True)
        return {"X-DreamFactory-Session-Token": token}
    if caller == "forged":
        token = _token(admin_user, secret="some-other-secret-" * 3, expired=False)
        return {"Authorization": f"Bearer {token}"}
    if caller == "inactive":
        service.is_active = False
        service.save()
    return {"X-DreamFactory-Session-Token": admin_token}


@pytest.mark.parametrize(
    ("caller", "method", "path", "query", "body", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_every_failure_uses_the_error_envelope(
    admin_token: str,
    admin_user: Any,
    service: Any,
    caller: str,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    expected: int,
) -> None:
    headers = _headers(caller, admin_token, admin_user, service)
    if isinstance(body, tuple) and body[0] is RAW:
        data: Any = body[1]
    else:
        data = json.dumps(body).encode() if body is not None else b""
    url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    client = Client()
    if caller == "tiny":
        with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, GATEWAY_MAX_BODY_BYTES=1000):
            response = client.generic(
                method, url, data, content_type="application/json", headers=headers
            )
    else:
        response = client.generic(
            method, url, data, content_type="application/json", headers=headers
        )

    assert response.status_code == expected, response.content
    assert response["Content-Type"].split(";")[0].strip() == "application/json"
    envelope = json.loads(response.content)
    assert list(envelope) == ["error"]
    error = envelope["error"]
    assert set(error) == {"code", "context", "message", "status_code"}
    assert error["status_code"] == response.status_code
    assert isinstance(error["message"], str) and error["message"].strip()
    assert isinstance(error["code"], (int, str)) and not isinstance(error["code"], bool)
    assert error["context"] is None or isinstance(error["context"], (dict, list))
    assert "&quot;" not in error["message"]  # plain text, not HTML-escaped (policy table)
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(
    ("case_id", "message"),
    [
        ("login-bad-password", "Invalid credentials supplied."),
        ("login-unknown-user", "Invalid credentials supplied."),
        ("login-missing-email", "Login request is missing required email."),
        ("login-missing-password", "Login request is missing required password."),
        ("service-not-found", "Record with identifier '999' not found."),
        ("unknown-table", 'Table "nope" does not exist in the database.'),
        ("unknown-service", "Could not find a service for nope"),
    ],
)
def test_envelope_message_of_selected_failures(
    admin_token: str, admin_user: Any, service: Any, case_id: str, message: str
) -> None:
    (case,) = [c for c in CASES if c[0] == case_id]
    _, caller, method, path, query, body, expected = case
    headers = _headers(caller, admin_token, admin_user, service)
    response = Client().generic(
        method,
        path,
        json.dumps(body).encode() if body is not None else b"",
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == expected
    assert response.json() == {
        "error": {"code": expected, "context": None, "message": message, "status_code": expected}
    }


def test_batch_error_envelope_code_is_1000_with_per_record_context(
    admin_token: str, service: Any
) -> None:
    response = Client().post(
        TODO,
        data=[{"name": "fresh"}, {"name": "test1"}],
        content_type="application/json",
        headers={"X-DreamFactory-Session-Token": admin_token},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 1000
    assert error["status_code"] == 400
    assert error["message"] == "Batch Error: Not all requested records could be created."
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][0] == {"id": 6}
    inner = error["context"]["resource"][1]
    assert {"code", "message"} <= set(inner)
    assert inner["code"] == "23505"
