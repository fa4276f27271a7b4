"""Sessions (spec §7.2-7.4): log in, inspect, refresh and log out; the JWT itself; failed-login
throttling; open registration; the public environment.

Personas: Jane, a non-admin user whose role for the "Todo app" reads every table of `shop`
(she logs in with that app's key), and the admin from tests/conftest.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import orjson
import pytest
from django.conf import settings
from django.test import Client, override_settings

from core.verbs import GET
from tests.conftest import (
    Api,
    assert_error,
    assign_role,
    claims_for,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
)

pytestmark = pytest.mark.django_db

USER_SESSION = "/api/v2/user/session"
ADMIN_SESSION = "/api/v2/system/admin/session"
REGISTER = "/api/v2/user/register"
ENVIRONMENT = "/api/v2/system/environment"
TODO = "/api/v2/shop/_table/todo"

JANE = "jane@example.com"
PASSWORD = "user-password-123"
ADMIN_PASSWORD = "correct-horse-battery"  # tests/conftest.py admin_user

INVALID_CREDENTIALS = "Invalid credentials supplied."
NO_SESSION = "There is no valid session for the current request."
BLACKLISTED = "The token has been blacklisted: Session terminated. Please re-login."
EXPIRED = (
    "Token has expired: Session expired. Please refresh your token (if still within refresh "
    "window) or re-login."
)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
CLAIMS = {"iss", "iat", "exp", "nbf", "jti", "sub", "user_id", "forever"}


# --- helpers ---------------------------------------------------------------------------------


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(claims: dict[str, Any], alg: str, secret: str | None) -> str:
    """A JWT built by hand (no library checks): alg none, HS512 or any secret."""
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    digest = {"HS256": hashlib.sha256, "HS512": hashlib.sha512}[alg]
    signature = hmac.new(str(secret).encode(), signing_input, digest).digest()
    return f"{header}.{payload}.{b64(signature)}"


def gateway_token(user: Any, **overrides: Any) -> str:
    """A token signed exactly as the gateway signs (HS256, JWT_SECRET)."""
    return hand_signed(claims_for(user, **overrides), "HS256", settings.JWT_SECRET)


def post_login(
    path: str,
    body: Any,
    *,
    api_key: str | None = None,
    token: str | None = None,
    remote_addr: str = "127.0.0.1",
) -> Any:
    """A raw login response (headers included)."""
    headers = {}
    if api_key:
        headers["X-DreamFactory-Api-Key"] = api_key
    if token:
        headers["X-DreamFactory-Session-Token"] = token
    return Client(REMOTE_ADDR=remote_addr).post(
        path, data=orjson.dumps(body), content_type="application/json", headers=headers
    )


def assert_no_password(response_or_body: Any, *passwords: str) -> None:
    text = (
        response_or_body.content.decode()
        if hasattr(response_or_body, "content")
        else orjson.dumps(response_or_body).decode()
    )
    for password in passwords:
        assert password not in text


@pytest.fixture
def jane(service: Any) -> SimpleNamespace:
    """Jane: her role for the Todo app reads every table of `shop`; the app has no default role."""
    reader = make_role(
        "todo reader", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )
    app, key = make_app("Todo app")
    user = make_user(JANE, PASSWORD)
    assign_role(user, app, reader)
    return SimpleNamespace(user=user, role=reader, app=app, key=key)


def read_todo(key: str, token: str) -> tuple[int, Any]:
    return client_for(key, token).get(TODO)


# --- login -----------------------------------------------------------------------------------


def test_login_with_an_app_key_reports_the_apps_role(jane: SimpleNamespace) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}, api_key=jane.key)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["session_token"] and body["session_id"] == body["session_token"]
    assert body["role"] == "todo reader"
    assert body["role_id"] == jane.role.pk
    assert body["id"] == jane.user.pk
    assert body["email"] == JANE
    assert body["is_sys_admin"] is False
    expiry = datetime.strptime(body["token_expiry_date"], DATE_FORMAT)
    ttl = timedelta(minutes=settings.JWT_TTL_MINUTES)
    assert before + ttl - timedelta(seconds=1) <= expiry <= before + ttl + timedelta(seconds=60)
    last_login = datetime.strptime(body["last_login_date"], DATE_FORMAT)
    assert abs(last_login - before) < timedelta(seconds=60)
    jane.user.refresh_from_db()
    assert jane.user.last_login_date is not None
    assert_no_password(response, PASSWORD)
    # the token works on the data API with the app's key
    status, rows = read_todo(jane.key, body["session_token"])
    assert status == 200 and len(rows["resource"]) == 5


def test_login_without_a_key_has_no_role(jane: SimpleNamespace) -> None:
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert "role" not in body and "role_id" not in body
    assert body["session_token"] and body["email"] == JANE
    assert response["Cache-Control"] == "no-store"
    assert_no_password(response, PASSWORD)


def test_email_is_matched_case_insensitively(jane: SimpleNamespace) -> None:
    response = post_login(USER_SESSION, {"email": " Jane@Example.COM ", "password": PASSWORD})
    assert response.status_code == 200, response.content
    assert response.json()["id"] == jane.user.pk


def test_admin_login_has_no_role(admin_user: Any) -> None:
    response = post_login(ADMIN_SESSION, {"email": admin_user.email, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_sys_admin"] is True and "role" not in body and "role_id" not in body
    assert response["Cache-Control"] == "no-store"
    assert_no_password(response, ADMIN_PASSWORD)
    assert jwt.decode(body["session_token"], settings.JWT_SECRET, algorithms=["HS256"])["iss"] == (
        "http://testserver" + ADMIN_SESSION
    )


def test_jwt_carries_exactly_the_spec_claims(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(token, settings.JWT_SECRET, algorithms=["HS256"])
    assert set(claims) == CLAIMS
    assert claims["iss"] == "http://testserver" + USER_SESSION
    assert claims["sub"] == md5_hex(JANE)
    assert claims["user_id"] == jane.user.pk and type(claims["user_id"]) is int
    assert claims["forever"] is False
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["exp"] - claims["iat"] == settings.JWT_TTL_MINUTES * 60
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    # every login gets its own token id
    other = jwt.decode(login(JANE, PASSWORD, jane.key), settings.JWT_SECRET, algorithms=["HS256"])
    assert other["jti"] != claims["jti"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"password": PASSWORD}, "Login request is missing required email."),
        ({"email": "", "password": PASSWORD}, "Login request is missing required email."),
        ({"email": JANE}, "Login request is missing required password."),
        ({"email": JANE, "password": ""}, "Login request is missing required password."),
        ([], "Login request is missing required email."),
    ],
)
@pytest.mark.parametrize("path", [USER_SESSION, ADMIN_SESSION])
def test_login_validation(jane: SimpleNamespace, path: str, body: Any, message: str) -> None:
    status, answer = Api(Client(), {}).post(path, body)
    assert_error(status, answer, 400, message)


@pytest.mark.parametrize(
    ("path", "email", "password"),
    [
        (USER_SESSION, JANE, "wrong-password-123"),
        (USER_SESSION, "nobody@example.com", PASSWORD),
        (USER_SESSION, "admin@example.com", ADMIN_PASSWORD),  # admins use the admin endpoint
        (ADMIN_SESSION, JANE, PASSWORD),  # users use the user endpoint
        (ADMIN_SESSION, "admin@example.com", "wrong-password-123"),
    ],
)
def test_bad_credentials_are_401(
    jane: SimpleNamespace, admin_user: Any, path: str, email: str, password: str
) -> None:
    response = post_login(path, {"email": email, "password": password}, api_key=jane.key)
    assert_error(response.status_code, response.json(), 401, INVALID_CREDENTIALS)
    assert_no_password(response, password)
    assert "session_token" not in response.content.decode()


def test_inactive_user_cannot_log_in(jane: SimpleNamespace) -> None:
    jane.user.is_active = False
    jane.user.save()
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}, api_key=jane.key)
    assert_error(response.status_code, response.json(), 401, INVALID_CREDENTIALS)


@pytest.mark.parametrize(
    "stale",
    ["garbage", "a.b.c", "expired", "revoked", "forged"],
)
def test_a_token_sent_with_a_login_is_ignored(jane: SimpleNamespace, stale: str) -> None:
    tokens = {
        "garbage": "garbage",
        "a.b.c": "a.b.c",
        "expired": gateway_token(jane.user, iat=0, nbf=0, exp=int(time.time()) - 60),
        "forged": hand_signed(claims_for(jane.user), "HS256", "x" * 64),
    }
    if stale == "revoked":
        old = login(JANE, PASSWORD, jane.key)
        assert client_for(jane.key, old).delete(USER_SESSION)[0] == 200
        tokens["revoked"] = old
    response = post_login(
        USER_SESSION, {"email": JANE, "password": PASSWORD}, api_key=jane.key, token=tokens[stale]
    )
    assert response.status_code == 200, response.content
    fresh = response.json()["session_token"]
    assert fresh != tokens[stale]
    assert read_todo(jane.key, fresh)[0] == 200


def test_inactive_role_for_the_app_is_403(jane: SimpleNamespace) -> None:
    jane.role.is_active = False
    jane.role.save()
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}, api_key=jane.key)
    assert_error(response.status_code, response.json(), 403, "Role is not active.")
    assert "session_token" not in response.content.decode()


# --- session info ----------------------------------------------------------------------------


def test_get_session_without_a_token() -> None:
    status, body = Api(Client(), {}).get(USER_SESSION)
    assert_error(status, body, 401, NO_SESSION)
    status, body = Api(Client(), {}).get(ADMIN_SESSION)
    assert_error(status, body, 404, "No user session found.")


def test_get_session_describes_the_token(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    response = Client().get(
        USER_SESSION,
        headers={"X-DreamFactory-Session-Token": token, "X-DreamFactory-Api-Key": jane.key},
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["id"] == jane.user.pk and body["email"] == JANE
    assert body["role"] == "todo reader" and body["role_id"] == jane.role.pk
    assert body["last_login_date"]
    assert_no_password(response, PASSWORD)
    # the Bearer form works too
    response = Client().get(USER_SESSION, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["email"] == JANE


def test_admin_session_refuses_a_user_token(jane: SimpleNamespace, admin_token: str) -> None:
    token = login(JANE, PASSWORD, jane.key)
    status, body = client_for(token=token).get(ADMIN_SESSION)
    assert_error(status, body, 401, "You are not authorized to perform this action.")
    status, body = client_for(token=admin_token).get(ADMIN_SESSION)
    assert status == 200 and body["email"] == "admin@example.com" and body["is_sys_admin"]


# --- refresh ---------------------------------------------------------------------------------


def test_refresh_issues_a_new_token_and_blacklists_the_old(jane: SimpleNamespace) -> None:
    old = login(JANE, PASSWORD, jane.key)
    assert read_todo(jane.key, old)[0] == 200
    response = Client().put(
        USER_SESSION,
        headers={"X-DreamFactory-Session-Token": old, "X-DreamFactory-Api-Key": jane.key},
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    new = body["session_token"]
    assert new != old and body["session_id"] == new
    assert body["role_id"] == jane.role.pk and body["id"] == jane.user.pk
    new_claims = jwt.decode(new, settings.JWT_SECRET, algorithms=["HS256"])
    assert new_claims["jti"] != jwt.decode(old, settings.JWT_SECRET, algorithms=["HS256"])["jti"]
    assert_no_password(response, PASSWORD)
    status, answer = read_todo(jane.key, old)
    assert_error(status, answer, 403, BLACKLISTED)
    status, rows = read_todo(jane.key, new)
    assert status == 200 and len(rows["resource"]) == 5
    # the old token cannot be refreshed a second time either
    status, answer = client_for(token=old).put(USER_SESSION)
    assert_error(status, answer, 403, BLACKLISTED)


def test_expired_token_inside_the_refresh_window_is_refreshed(jane: SimpleNamespace) -> None:
    now = int(time.time())
    expired = gateway_token(jane.user, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    status, answer = read_todo(jane.key, expired)
    assert_error(status, answer, 401, EXPIRED)
    status, body = client_for(jane.key, expired).put(USER_SESSION)
    assert status == 200, body
    assert read_todo(jane.key, body["session_token"])[0] == 200
    claims = jwt.decode(body["session_token"], settings.JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] > time.time() + 3600


@override_settings(JWT_REFRESH_TTL_MINUTES=60)
def test_refresh_outside_the_window_fails(jane: SimpleNamespace) -> None:
    now = int(time.time())
    too_old = gateway_token(jane.user, iat=now - 3 * 3600, nbf=now - 3 * 3600, exp=now - 7200)
    status, body = client_for(jane.key, too_old).put(USER_SESSION)
    assert_error(status, body, 401, "Token refresh failed.", prefix=True)
    # inside the (shortened) window it still works
    recent = gateway_token(jane.user, iat=now - 1800, nbf=now - 1800, exp=now - 60, jti="ef" * 16)
    assert client_for(jane.key, recent).put(USER_SESSION)[0] == 200


@pytest.mark.parametrize("path", [USER_SESSION, ADMIN_SESSION])
def test_refresh_of_a_garbage_token_is_401(path: str) -> None:
    status, body = client_for(token="garbage").put(path)
    assert_error(status, body, 401, "Token refresh failed. Invalid token", prefix=True)
    status, body = Api(Client(), {}).put(path)
    assert_error(status, body, 401, f"Token refresh failed. {NO_SESSION}")


def test_admin_refresh_refuses_a_user_token(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    status, body = client_for(token=token).put(ADMIN_SESSION)
    assert_error(status, body, 401, "Token refresh failed.", prefix=True)
    assert read_todo(jane.key, token)[0] == 200  # a refused refresh does not end the session


def test_admin_refresh(admin_token: str) -> None:
    status, body = client_for(token=admin_token).put(ADMIN_SESSION)
    assert status == 200 and body["session_token"] != admin_token and body["is_sys_admin"]
    status, answer = client_for(token=admin_token).get("/api/v2/system/role")
    assert_error(status, answer, 403, BLACKLISTED)
    assert client_for(token=body["session_token"]).get("/api/v2/system/role")[0] == 200


# --- logout ----------------------------------------------------------------------------------


def _restart() -> None:
    """Forget everything this process holds in memory, as a restart would."""
    from rbac import revocation, sessions
    from services.registry import registry

    revocation.clear()
    sessions.clear_caches()
    registry.invalidate()


def test_logout_blacklists_the_token_even_across_a_restart(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    assert read_todo(jane.key, token)[0] == 200
    response = Client().delete(USER_SESSION, headers={"X-DreamFactory-Session-Token": token})
    assert response.status_code == 200, response.content
    assert response.json() == {"success": True}
    assert response["Cache-Control"] == "no-store"
    status, answer = read_todo(jane.key, token)
    assert_error(status, answer, 403, BLACKLISTED)
    _restart()
    status, answer = read_todo(jane.key, token)
    assert_error(status, answer, 403, BLACKLISTED)
    # the user can log in again and gets a working token
    assert read_todo(jane.key, login(JANE, PASSWORD, jane.key))[0] == 200


def test_logout_twice_and_without_a_token(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    assert client_for(token=token).delete(USER_SESSION) == (200, {"success": True})
    status, body = client_for(token=token).delete(USER_SESSION)
    assert_error(status, body, 403, BLACKLISTED)
    status, body = Api(Client(), {}).delete(USER_SESSION)
    assert_error(status, body, 401, NO_SESSION)


def test_admin_logout(admin_token: str) -> None:
    assert client_for(token=admin_token).delete(ADMIN_SESSION) == (200, {"success": True})
    status, body = client_for(token=admin_token).get("/api/v2/system/role")
    assert_error(status, body, 403, BLACKLISTED)


def test_logged_out_token_cannot_be_refreshed_after_a_restart(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    assert client_for(token=token).delete(USER_SESSION)[0] == 200
    _restart()
    status, body = client_for(jane.key, token).put(USER_SESSION)
    assert_error(status, body, 403, BLACKLISTED)


def test_logged_out_token_has_no_session_info_after_a_restart(jane: SimpleNamespace) -> None:
    token = login(JANE, PASSWORD, jane.key)
    assert client_for(token=token).delete(USER_SESSION)[0] == 200
    _restart()
    status, body = client_for(token=token).get(USER_SESSION)
    assert_error(status, body, 403, BLACKLISTED)


# --- token pinning and user checks -----------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["none", "HS512", "wrong secret", "tampered", "other email", "no forever claim"]
)
def test_tokens_not_signed_by_the_gateway_are_refused(jane: SimpleNamespace, kind: str) -> None:
    claims = claims_for(jane.user)
    if kind == "none":
        token = hand_signed(claims, "none", None)
    elif kind == "HS512":
        token = hand_signed(claims, "HS512", settings.JWT_SECRET)
    elif kind == "wrong secret":
        token = hand_signed(claims, "HS256", "not-the-gateway-secret-" + "x" * 40)
    elif kind == "tampered":  # a real token whose payload names another user
        real = login(JANE, PASSWORD, jane.key)
        head, _, sig = real.split(".")
        other = make_user("mallory@example.com", PASSWORD)
        token = ".".join([head, b64(json.dumps(claims_for(other)).encode()), sig])
    elif kind == "other email":  # correctly signed, but `sub` is not the md5 of the email
        token = gateway_token(jane.user, sub=md5_hex("someone@example.com"))
    else:  # correctly signed, but a required claim is missing
        claims.pop("forever")
        token = hand_signed(claims, "HS256", settings.JWT_SECRET)
    status, body = read_todo(jane.key, token)
    assert_error(status, body, 401, "Invalid token", prefix=True)
    status, body = client_for(token=token).get(USER_SESSION)
    assert_error(status, body, 401, "Invalid token", prefix=True)
    status, body = client_for(token=token).get("/api/v2/system/role")
    assert_error(status, body, 401, "Invalid token", prefix=True)


def test_an_admin_token_with_alg_none_does_not_reach_the_system_api(admin_user: Any) -> None:
    token = hand_signed(claims_for(admin_user), "none", None)
    status, body = client_for(token=token).get("/api/v2/system/user")
    assert_error(status, body, 401, "Invalid token", prefix=True)


def test_deactivating_the_user_refuses_their_token(jane: SimpleNamespace, admin_token: str) -> None:
    token = login(JANE, PASSWORD, jane.key)
    assert read_todo(jane.key, token)[0] == 200
    status, _ = client_for(token=admin_token).patch(
        f"/api/v2/system/user/{jane.user.pk}", {"is_active": False}
    )
    assert status == 200
    status, body = read_todo(jane.key, token)
    assert_error(status, body, 401, "Invalid token: User verification failed.")
    status, body = client_for(token=token).put(USER_SESSION)
    assert_error(status, body, 401, "Token refresh failed.", prefix=True)


def test_changing_the_email_refuses_old_tokens(jane: SimpleNamespace, admin_token: str) -> None:
    token = login(JANE, PASSWORD, jane.key)
    status, _ = client_for(token=admin_token).patch(
        f"/api/v2/system/user/{jane.user.pk}", {"email": "jane.doe@example.com"}
    )
    assert status == 200
    status, body = read_todo(jane.key, token)
    assert_error(status, body, 401, "Invalid token: User verification failed.")


def test_deleting_the_user_refuses_their_token(jane: SimpleNamespace, admin_token: str) -> None:
    token = login(JANE, PASSWORD, jane.key)
    status, _ = client_for(token=admin_token).delete(f"/api/v2/system/user/{jane.user.pk}")
    assert status == 200
    status, body = read_todo(jane.key, token)
    assert_error(status, body, 401, "Invalid token", prefix=True)


# --- throttling ------------------------------------------------------------------------------


def _fail(email: str, times: int, remote_addr: str = "127.0.0.1") -> None:
    for _ in range(times):
        response = post_login(
            USER_SESSION, {"email": email, "password": "wrong-password-9"}, remote_addr=remote_addr
        )
        assert_error(response.status_code, response.json(), 401, INVALID_CREDENTIALS)


def _assert_locked(response: Any, what: str) -> None:
    error = assert_error(
        response.status_code,
        response.json(),
        429,
        f"Too many failed logins for {what}. Try again in",
        prefix=True,
    )
    retry = int(response["Retry-After"])
    assert 1 <= retry <= settings.GATEWAY_LOGIN_LOCKOUT_SECONDS
    assert re.search(rf"in {retry} seconds\.$", error["message"]), error["message"]
    assert "session_token" not in response.content.decode()


def test_five_failures_lock_the_account_even_for_the_right_password(
    jane: SimpleNamespace,
) -> None:
    assert settings.GATEWAY_LOGIN_MAX_FAILURES == 5
    _fail(JANE, 4)
    _fail(JANE.upper(), 1)  # the same account, whatever the case
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD})
    _assert_locked(response, "this account")
    # from another address too: the lock is on the account
    response = post_login(
        USER_SESSION, {"email": JANE, "password": PASSWORD}, remote_addr="10.9.8.7"
    )
    _assert_locked(response, "this account")


@override_settings(GATEWAY_LOGIN_MAX_FAILURES=3, GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS=5)
def test_the_address_limit_spans_accounts(jane: SimpleNamespace) -> None:
    make_user("bob@example.com", PASSWORD)
    make_user("carol@example.com", PASSWORD)
    _fail(JANE, 3)
    _assert_locked(post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}), "this account")
    # another account from the same address still logs in: 3 address failures < 5
    response = post_login(USER_SESSION, {"email": "bob@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.content
    _fail("bob@example.com", 2)  # 5 failures from this address now
    response = post_login(USER_SESSION, {"email": "carol@example.com", "password": PASSWORD})
    _assert_locked(response, "your address")
    # carol from elsewhere is fine
    response = post_login(
        USER_SESSION, {"email": "carol@example.com", "password": PASSWORD}, remote_addr="10.0.0.2"
    )
    assert response.status_code == 200, response.content


def test_admin_logins_are_throttled_too(admin_user: Any) -> None:
    for _ in range(5):
        response = post_login(
            ADMIN_SESSION, {"email": admin_user.email, "password": "wrong-password-9"}
        )
        assert response.status_code == 401
    response = post_login(ADMIN_SESSION, {"email": admin_user.email, "password": ADMIN_PASSWORD})
    _assert_locked(response, "this account")


def test_a_successful_login_resets_the_account_counter(jane: SimpleNamespace) -> None:
    _fail(JANE, 4)
    assert post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}).status_code == 200
    _fail(JANE, 4)  # 8 failures in all, but only 4 since the success
    response = post_login(USER_SESSION, {"email": JANE, "password": PASSWORD})
    assert response.status_code == 200, response.content
    _fail(JANE, 5)  # five in a row since the last success lock the account again
    _assert_locked(post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}), "this account")


# --- registration and environment ------------------------------------------------------------


NEWCOMER = {
    "email": "New.Comer@Example.com",
    "password": "a-long-fresh-password",
    "first_name": "N",
}


def test_registration_is_off_by_default() -> None:
    status, body = Api(Client(), {}).post(REGISTER, NEWCOMER)
    assert_error(status, body, 403, "Open registration for users is not enabled", prefix=True)
    from rbac.models import User

    assert not User.objects.filter(email="new.comer@example.com").exists()


@override_settings(GATEWAY_OPEN_REGISTRATION=True)
def test_registration_creates_a_user_who_can_log_in(admin_user: Any) -> None:
    anon = Api(Client(), {})
    body = {**NEWCOMER, "is_sys_admin": True, "is_staff": True, "is_superuser": True}
    status, answer = anon.post(REGISTER, body)
    assert (status, answer) == (200, {"success": True})
    from rbac.models import User

    user = User.objects.get(email="new.comer@example.com")
    assert user.first_name == "N" and user.is_active
    assert not user.is_staff and not user.is_superuser
    response = post_login(
        USER_SESSION, {"email": "new.comer@example.com", "password": NEWCOMER["password"]}
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_sys_admin"] is False
    # a registered user is not an admin
    response = post_login(
        ADMIN_SESSION, {"email": "new.comer@example.com", "password": NEWCOMER["password"]}
    )
    assert_error(response.status_code, response.json(), 401, INVALID_CREDENTIALS)


@override_settings(GATEWAY_OPEN_REGISTRATION=True)
@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "too short"),
        ("12345678901234", "entirely numeric"),
        ("password123", "too common"),
        ("", "too short"),
    ],
)
def test_registration_refuses_weak_passwords(password: str, problem: str) -> None:
    status, body = Api(Client(), {}).post(REGISTER, {**NEWCOMER, "password": password})
    error = assert_error(status, body, 400, "Password not accepted:", prefix=True)
    assert problem in error["message"]
    from rbac.models import User

    assert not User.objects.filter(email="new.comer@example.com").exists()


@override_settings(GATEWAY_OPEN_REGISTRATION=True)
def test_registration_refuses_a_duplicate_email(jane: SimpleNamespace, admin_user: Any) -> None:
    anon = Api(Client(), {})
    for email in (JANE, "JANE@example.com", "admin@example.com"):
        status, body = anon.post(REGISTER, {"email": email, "password": "a-long-fresh-password"})
        error = assert_error(status, body, 400, "A user with email", prefix=True)
        assert "already exists" in error["message"]
    # the existing accounts are untouched
    assert post_login(USER_SESSION, {"email": JANE, "password": PASSWORD}).status_code == 200
    response = post_login(ADMIN_SESSION, {"email": "admin@example.com", "password": ADMIN_PASSWORD})
    assert response.status_code == 200


@override_settings(GATEWAY_OPEN_REGISTRATION=True)
def test_registration_needs_an_email() -> None:
    status, body = Api(Client(), {}).post(REGISTER, {"password": "a-long-fresh-password"})
    assert_error(status, body, 400, "Registration needs a valid email.")


def test_environment_is_public() -> None:
    status, body = Api(Client(), {}).get(ENVIRONMENT)
    assert status == 200, body
    auth = body["authentication"]
    assert auth["admin"]["path"] == "system/admin/session"
    assert auth["user"]["path"] == "user/session"
    assert auth["allow_open_registration"] is False
    assert auth["login_attribute"] == "email"
    with override_settings(GATEWAY_OPEN_REGISTRATION=True):
        status, body = Api(Client(), {}).get(ENVIRONMENT)
    assert status == 200 and body["authentication"]["allow_open_registration"] is True
