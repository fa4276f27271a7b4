"""The user service (DF's df-user, spec §7.2-7.3): `GET /api/v2/user` lists its resources;
Jane reads and edits her profile, changes her password, resets a forgotten one (by a mailed
code or her security question), keeps her settings in `user/custom`, and asks to be
remembered; open registration; wrong verbs answer 400; two workers creating users and logging
them in at once never answer 500.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from core.errors import BadRequest
from rbac.models import User
from rbac.user_writes import save_user
from tests.conftest import Api, assert_error, client_for, login, make_user
from tests.faults.test_metadata_writes import metadata_env  # noqa: F401  (a fixture)
from tests.servers import GatewayServer, granian_workers, manage

pytestmark = pytest.mark.django_db

JANE = "jane@example.com"
PASSWORD = "user-password-123"
NEW_PASSWORD = "a-brand-new-passphrase-7"
NO_SESSION = "There is no valid session for the current request."
BLACKLISTED = "The token has been blacklisted: Session terminated. Please re-login."


@pytest.fixture
def jane() -> User:
    user: User = make_user(JANE, PASSWORD)
    return user


@pytest.fixture
def jane_api(jane: User) -> Api:
    return client_for(token=login(JANE, PASSWORD))


def can_log_in(email: str, password: str) -> bool:
    response = Client().post(
        "/api/v2/user/session",
        data={"email": email, "password": password},
        content_type="application/json",
    )
    return response.status_code == 200


# --- GET /api/v2/user ------------------------------------------------------------------------


def test_the_user_service_lists_its_resources(jane_api: Api, anon: Api) -> None:
    names = ["password", "profile", "register", "session", "custom"]
    status, body = jane_api.get("/api/v2/user")
    assert status == 200, body
    assert body == {"resource": [{"name": n} for n in names]}

    status, body = jane_api.get("/api/v2/user/", fields="*")
    assert status == 200, body
    assert [r["label"] for r in body["resource"]] == [n.capitalize() for n in names]
    assert jane_api.get("/api/v2/user", as_list="true")[1] == {"resource": names}

    status, body = anon.get("/api/v2/user")
    assert_error(status, body, 401, "No session token (JWT) or API Key", prefix=True)
    assert_error(
        *anon.get("/api/v2/user/nope"), 404, "Resource 'nope' not found for service 'user'."
    )


# --- user/profile ----------------------------------------------------------------------------


def test_jane_reads_and_edits_her_profile(jane: User, jane_api: Api, anon: Api) -> None:
    status, body = jane_api.get("/api/v2/user/profile")
    assert status == 200, body
    assert body["email"] == JANE
    assert body["name"] == "jane"  # from the email, as a display name
    assert {"first_name", "last_name", "phone", "security_question", "default_app_id"} <= set(body)
    assert "security_answer" not in body and "password" not in body

    change = {
        "first_name": "Jane",
        "last_name": "Doe",
        "phone": "+44 20 7946 0000",
        "security_question": "First pet?",
        "security_answer": "Rex",
        "username": "ignored",
        "is_staff": True,  # not hers to change
    }
    assert jane_api.post("/api/v2/user/profile", change) == (200, {"success": True})
    status, body = jane_api.patch("/api/v2/user/profile", {"phone": "555"})
    assert (status, body) == (200, {"success": True})
    body = jane_api.get("/api/v2/user/profile")[1]
    assert (body["name"], body["phone"], body["security_question"]) == (
        "Jane Doe",
        "555",
        "First pet?",
    )
    jane.refresh_from_db()
    assert not jane.is_staff
    assert jane.security_answer and "Rex" not in jane.security_answer  # stored hashed

    assert_error(*jane_api.post("/api/v2/user/profile", {}), 400, "No data supplied for operation.")
    status, body = jane_api.post("/api/v2/user/profile", {"email": "not-an-email"})
    assert_error(status, body, 400, "Validation failed:", prefix=True)
    assert_error(*anon.get("/api/v2/user/profile"), 401, NO_SESSION)


def test_a_new_email_ends_the_old_token_and_answers_a_new_one(jane: User, jane_api: Api) -> None:
    make_user("taken@example.com")
    status, body = jane_api.post("/api/v2/user/profile", {"email": "Taken@Example.com"})
    assert_error(status, body, 400, "Validation failed:", prefix=True)

    status, body = jane_api.post("/api/v2/user/profile", {"email": "Jane.Doe@Example.com"})
    assert status == 200, body
    assert body["success"] is True
    new = client_for(token=body["session_token"])
    assert new.get("/api/v2/user/profile")[1]["email"] == "jane.doe@example.com"
    assert_error(
        *jane_api.get("/api/v2/user/profile"), 401, "Invalid token: User verification failed."
    )
    assert can_log_in("jane.doe@example.com", PASSWORD)
    # going back to the old email does not revive the old token: it was ended
    assert new.post("/api/v2/user/profile", {"email": JANE})[0] == 200
    assert_error(*jane_api.get("/api/v2/user/profile"), 403, BLACKLISTED)


# --- user/password ---------------------------------------------------------------------------


def test_jane_changes_her_password(jane: User, jane_api: Api) -> None:
    wrong = {"old_password": "not-it-at-all", "new_password": NEW_PASSWORD}
    status, body = jane_api.post("/api/v2/user/password", wrong)
    assert_error(status, body, 400, "The password supplied does not match.")
    weak = {"old_password": PASSWORD, "new_password": "123"}
    assert_error(
        *jane_api.post("/api/v2/user/password", weak), 400, "Password not accepted:", prefix=True
    )
    assert can_log_in(JANE, PASSWORD)

    change = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert jane_api.post("/api/v2/user/password", change) == (200, {"success": True})
    assert can_log_in(JANE, NEW_PASSWORD)
    assert not can_log_in(JANE, PASSWORD)

    # ?login=true answers a session as well (PUT is an alias of POST)
    back = {"old_password": NEW_PASSWORD, "new_password": PASSWORD}
    status, body = jane_api.put("/api/v2/user/password", back, login="true")
    assert status == 200, body
    assert client_for(token=body["session_token"]).get("/api/v2/user/profile")[0] == 200


def test_password_changes_need_enough_information(jane: User, anon: Api, admin_token: str) -> None:
    message = "Not enough information provided to change password."
    body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}  # but no session
    assert_error(*anon.post("/api/v2/user/password", body), 400, message)
    assert_error(*anon.post("/api/v2/user/password", {}), 400, message)
    # an admin's password is changed through system/admin/password, not the user service
    admin = client_for(token=admin_token)
    change = {"old_password": "correct-horse-battery", "new_password": NEW_PASSWORD}
    status, answer = admin.post("/api/v2/user/password", change)
    assert_error(
        status, answer, 401, "You are not authorized to reset/change password", prefix=True
    )


def _mailed_code() -> str:
    assert len(mail.outbox) == 1
    found = re.search(r"Confirmation code: (\w+)", str(mail.outbox[0].body))
    assert found is not None
    return found.group(1)


def test_a_forgotten_password_is_reset_with_a_mailed_code(jane: User, anon: Api) -> None:
    reset = "/api/v2/user/password"
    assert anon.post(reset, {"email": "JANE@example.com"}, reset="true") == (200, {"success": True})
    assert mail.outbox[0].to == [JANE]
    code = _mailed_code()
    assert len(code) == 32
    jane.refresh_from_db()
    assert code not in jane.confirm_code  # only its hash is stored

    wrong = {"email": JANE, "code": "x" * 32, "new_password": NEW_PASSWORD}
    status, body = anon.post(reset, wrong)
    assert_error(
        status,
        body,
        404,
        "The supplied email and/or confirmation code were not found in the system.",
    )
    assert_error(
        *anon.post(reset, {**wrong, "code": "short"}), 400, "Invalid confirmation code format."
    )
    assert_error(
        *anon.post(reset, {**wrong, "code": code, "new_password": ""}),
        400,
        "Missing new password for reset.",
    )

    good = {"email": JANE, "code": code, "new_password": NEW_PASSWORD}
    status, body = anon.post(reset, good, login="true")
    assert status == 200, body
    assert body["success"] is True and body["session_token"]
    assert can_log_in(JANE, NEW_PASSWORD)
    # a code works once
    status, body = anon.post(reset, {**good, "new_password": "yet-another-passphrase-8"})
    assert_error(
        status,
        body,
        404,
        "The supplied email and/or confirmation code were not found in the system.",
    )
    assert can_log_in(JANE, NEW_PASSWORD)


def test_reset_codes_expire_and_unknown_emails_learn_nothing(jane: User, anon: Api) -> None:
    reset = "/api/v2/user/password"
    # an unknown email answers exactly as a known one, and nothing is sent
    assert anon.post(reset, {"email": "nobody@example.com"}, reset="true") == (
        200,
        {"success": True},
    )
    assert mail.outbox == []
    assert_error(
        *anon.post(reset, {}, reset="true"),
        400,
        "Missing required email for password reset confirmation.",
    )

    anon.post(reset, {"email": JANE}, reset="true")
    code = _mailed_code()
    User.objects.filter(pk=jane.pk).update(confirm_expires=timezone.now() - timedelta(seconds=1))
    status, body = anon.post(reset, {"email": JANE, "code": code, "new_password": NEW_PASSWORD})
    assert_error(status, body, 400, "Confirmation code expired.")
    assert can_log_in(JANE, PASSWORD)


def test_a_forgotten_password_is_reset_with_the_security_answer(jane_api: Api, anon: Api) -> None:
    jane_api.post(
        "/api/v2/user/profile", {"security_question": "First pet?", "security_answer": "Rex"}
    )
    reset = "/api/v2/user/password"
    status, body = anon.post(reset, {"email": JANE}, reset="true")
    assert (status, body) == (200, {"security_question": "First pet?"})
    assert mail.outbox == []  # the question replaces the code

    wrong = {"email": JANE, "security_answer": "Fido", "new_password": NEW_PASSWORD}
    assert_error(*anon.post(reset, wrong), 400, "The answer supplied does not match.")
    right = {**wrong, "security_answer": "Rex"}
    assert anon.post(reset, right) == (200, {"success": True})
    assert can_log_in(JANE, NEW_PASSWORD)


# --- user/register ---------------------------------------------------------------------------


def test_open_registration_with_dreamfactory_field_names(anon: Api) -> None:
    signup = {"email": "Sam@Example.com", "new_password": NEW_PASSWORD, "first_name": "Sam"}
    status, body = anon.post("/api/v2/user/register", signup)
    assert_error(status, body, 403, "Open registration for users is not enabled", prefix=True)
    with override_settings(GATEWAY_OPEN_REGISTRATION=True):
        status, body = anon.post("/api/v2/user/register", signup, login="true")
        assert status == 200, body
        assert body["success"] is True
        sam = client_for(token=body["session_token"])
        assert sam.get("/api/v2/user/profile")[1]["first_name"] == "Sam"
        status, body = anon.post("/api/v2/user/register", signup)
        assert_error(status, body, 400, "A user with email 'sam@example.com' already exists.")
    assert can_log_in("sam@example.com", NEW_PASSWORD)


# --- user/session with remember_me -----------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def _login(remember: Any) -> dict[str, Any]:
    body = {"email": JANE, "password": PASSWORD, "remember_me": remember}
    status, answer = Api(Client(), {}).post("/api/v2/user/session", body)
    assert status == 200, answer
    return dict(answer)


def test_remember_me_gets_a_long_lived_token_only_where_allowed(jane: User) -> None:
    ttl, refresh = settings.JWT_TTL_MINUTES * 60, settings.JWT_REFRESH_TTL_MINUTES * 60
    claims = _claims(_login(True)["session_token"])  # off by default, as in DF
    assert (claims["forever"], claims["exp"] - claims["iat"]) == (False, ttl)

    with override_settings(JWT_ALLOW_FOREVER_SESSIONS=True):
        answer = _login("true")
        claims = _claims(answer["session_token"])
        assert (claims["forever"], claims["exp"] - claims["iat"]) == (True, refresh)
        assert _claims(_login(False)["session_token"])["forever"] is False
        # refreshing a remembered session gives another remembered one
        remembered = client_for(token=answer["session_token"])
        status, body = remembered.put("/api/v2/user/session")
        assert status == 200, body
        claims = _claims(body["session_token"])
        assert (claims["forever"], claims["exp"] - claims["iat"]) == (True, refresh)


# --- user/custom -----------------------------------------------------------------------------


def test_jane_keeps_her_own_settings(jane_api: Api, anon: Api) -> None:
    custom = "/api/v2/user/custom"
    status, body = jane_api.post(custom, {"resource": [{"name": "theme", "value": {"dark": True}}]})
    assert (status, body) == (201, {"resource": [{"name": "theme"}]})
    jane_api.patch(custom, [{"name": "theme", "value": "light"}, {"name": "lang", "value": "fr"}])
    assert jane_api.get(custom)[1] == {
        "resource": [{"name": "theme", "value": "light"}, {"name": "lang", "value": "fr"}]
    }
    assert jane_api.get(f"{custom}/lang") == (200, "fr")
    # another user sees only their own
    make_user("sam@example.com", PASSWORD)
    sam = client_for(token=login("sam@example.com", PASSWORD))
    assert sam.get(custom)[1] == {"resource": []}
    assert_error(*sam.get(f"{custom}/lang"), 404, "Record with identifier 'lang' not found.")

    assert jane_api.delete(f"{custom}/lang") == (200, {"name": "lang"})
    assert [r["name"] for r in jane_api.get(custom)[1]["resource"]] == ["theme"]
    assert_error(
        *jane_api.post(custom, {"name": "bare"}),
        400,
        "No record(s) detected in request.",
        prefix=True,
    )
    assert_error(*anon.get(custom), 401, NO_SESSION)


# --- wrong verbs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v2/user/session/5"),
        ("PATCH", "/api/v2/user/session/5"),
        ("GET", "/api/v2/user/session/5"),
        ("PATCH", "/api/v2/user/session"),
        ("GET", "/api/v2/user/password"),
        ("DELETE", "/api/v2/user/password"),
        ("POST", "/api/v2/user/password/5"),
        ("DELETE", "/api/v2/user/profile"),
        ("GET", "/api/v2/user/register"),
        ("PATCH", "/api/v2/system/admin/session"),
        ("GET", "/api/v2/system/admin/password"),
        ("DELETE", "/api/v2/system/admin/password/5"),
        ("PUT", "/api/v2/system/admin/profile/7"),
        ("POST", "/api/v2/user"),
        ("DELETE", "/api/v2/user/session/5/"),
        ("GET", "/api/v2/user/password/"),
    ],
)
def test_a_verb_a_resource_does_not_take_answers_400(jane_api: Api, method: str, path: str) -> None:
    status, body = jane_api.call(method, path)
    error = assert_error(status, body, 400, f"{method} is not supported on", prefix=True)
    assert path.removeprefix("/api/v2/").rstrip("/") in error["message"]


def test_a_trailing_slash_is_stripped_as_in_dreamfactory(jane_api: Api) -> None:
    assert jane_api.get("/api/v2/user/")[1]["resource"][0] == {"name": "password"}
    assert jane_api.get("/api/v2/user/profile/")[1]["email"] == JANE
    assert jane_api.get("/api/v2/user/session/")[1]["email"] == JANE
    status, body = jane_api.get("/api/v2/user/nope/")
    assert_error(status, body, 404, "Resource 'nope' not found for service 'user'.")


def test_an_email_taken_after_the_uniqueness_check_is_a_400(jane: User) -> None:
    """What a second worker meets when a first one created the same email between its check
    and its insert: the duplicate answer, not a 500, and its transaction goes on."""
    with transaction.atomic():
        with pytest.raises(BadRequest) as raised:
            save_user(User(email=JANE))
        assert raised.value.status == 400
        assert (
            raised.value.message == "Validation failed: email: user with this email already exists."
        )
        assert User.objects.filter(email=JANE).count() == 1  # the transaction is still usable


# --- two workers writing at once -------------------------------------------------------------

CREATE_ACCOUNTS = (
    "from rbac.models import User; "
    "User.objects.create_superuser('meta@example.com', 'meta-password-1234'); "
    "[User.objects.create_user(f'u{i}@example.com', 'user-password-1234') for i in range(4)]"
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=False)
def test_two_workers_create_users_and_log_in_at_once_without_a_500(
    metadata_env: dict[str, str],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    """Creating users (some with a password to hash), the same email many times, and user
    logins (which write last_login_date), all at once on two granian workers: each answer is
    201 or 200, or 400 for a taken email, and each taken email was created exactly once."""
    settings_env = {**metadata_env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings_env, "migrate", "-v0")
    manage(settings_env, "shell", "-v0", "-c", CREATE_ACCOUNTS)
    server = GatewayServer(metadata_env, tmp_path / "gateway.log", granian_workers(2)).start()
    try:
        admin = {"email": "meta@example.com", "password": "meta-password-1234"}
        status, body, _ = server.call("POST", "/api/v2/system/admin/session", admin)
        assert status == 200, body
        headers = {"X-DreamFactory-Session-Token": body["session_token"]}
        tag = uuid.uuid4().hex[:6]
        jobs: list[tuple[str, Any, dict[str, str]]] = []
        for i in range(30):
            fresh = {"email": f"new{i}-{tag}@example.com", "password": f"a-long-password-{i}"}
            jobs.append(("/api/v2/system/user", {"resource": [fresh]}, headers))
            same = {"email": f"same{i % 3}-{tag}@example.com", "first_name": "Twin"}
            jobs.append(("/api/v2/system/user", {"resource": [same]}, headers))
            login_body = {"email": f"u{i % 4}@example.com", "password": "user-password-1234"}
            jobs.append(("/api/v2/user/session", login_body, {}))

        def send(job: tuple[str, Any, dict[str, str]]) -> tuple[int, Any]:
            path, payload, extra = job
            status, answer, _ = server.call("POST", path, payload, headers=extra, timeout=60)
            return status, answer

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(send, jobs))
        for (path, payload, _), (status, answer) in zip(jobs, results, strict=True):
            twin = isinstance(payload, dict) and "Twin" in str(payload)
            allowed = {201, 400} if twin else ({201} if path.endswith("user") else {200})
            assert status in allowed, (path, payload, status, answer)
            if status == 400:
                assert "already exists" in answer["error"]["message"] or "email" in str(answer)
        created = [
            s
            for (p, b, _), (s, _a) in zip(jobs, results, strict=True)
            if "Twin" in str(b) and s == 201
        ]
        assert len(created) == 3  # each of the three twin emails exactly once
    finally:
        server.stop()
    assert "database is locked" not in server.log.read_text()


@pytest.mark.slow
def test_without_a_mail_server_the_reset_code_reaches_the_server_log(tmp_path: Path) -> None:
    """No EMAIL_URL (the default): the operator finds the code in the server's log, and the
    user finishes the reset with it."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}"}
    settings_env = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings_env, "migrate", "-v0")
    create = f"from rbac.models import User; User.objects.create_user('{JANE}', '{PASSWORD}')"
    manage(settings_env, "shell", "-v0", "-c", create)
    server = GatewayServer(env, tmp_path / "gateway.log").start()
    try:
        reset = "/api/v2/user/password"
        assert server.call("POST", f"{reset}?reset=true", {"email": JANE})[:2] == (
            200,
            {"success": True},
        )
        found = None
        for _ in range(50):
            found = re.search(r"Confirmation code: (\w{32})", server.log.read_text())
            if found:
                break
            time.sleep(0.1)
        assert found is not None, server.log.read_text()
        finish = {"email": JANE, "code": found.group(1), "new_password": NEW_PASSWORD}
        assert server.call("POST", reset, finish)[:2] == (200, {"success": True})
        login_body = {"email": JANE, "password": NEW_PASSWORD}
        assert server.call("POST", "/api/v2/user/session", login_body)[0] == 200
    finally:
        server.stop()
