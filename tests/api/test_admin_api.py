"""`system/admin` (spec §9.2): admins listed, read, created, changed and deleted as records;
their own `admin/profile` and `admin/password`; and `system/user` refusing every change to an
admin with `403 Not allowed to change an admin user.`, whichever verb or batch form is used.

Personas: the admin from tests/conftest.py, a second admin (Ada) and Jane, a plain user.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from rbac.models import User
from tests.conftest import Api, assert_error, client_for, login, make_user

pytestmark = pytest.mark.django_db

ADMIN_PASSWORD = "correct-horse-battery"  # tests/conftest.py admin_user
ADA = "ada@example.com"
ADA_PASSWORD = "ada-lovelace-engine-1843"
NOT_ALLOWED = "Not allowed to change an admin user."


@pytest.fixture
def admin(admin_token: str) -> Api:
    return client_for(token=admin_token)


@pytest.fixture
def ada(db: None) -> User:
    user: User = User.objects.create_superuser(ADA, ADA_PASSWORD, first_name="Ada")
    return user


@pytest.fixture
def jane(db: None) -> User:
    user: User = make_user("jane@example.com", "user-password-123")
    return user


def admin_login(email: str, password: str) -> tuple[int, dict[str, object]]:
    response = Client().post(
        "/api/v2/system/admin/session",
        data={"email": email, "password": password},
        content_type="application/json",
    )
    return response.status_code, response.json()


def test_admins_are_listed_and_read_as_records(
    admin: Api, admin_user: User, ada: User, jane: User
) -> None:
    status, body = admin.get("/api/v2/system/admin")
    assert status == 200, body
    emails = [r["email"] for r in body["resource"]]
    assert set(emails) == {admin_user.email, ADA}  # Jane is no admin
    record = next(r for r in body["resource"] if r["email"] == ADA)
    assert {"id", "name", "first_name", "last_name", "email", "is_active"} <= set(record)
    assert "password" not in record and "is_staff" not in record

    status, body = admin.get(f"/api/v2/system/admin/{ada.pk}")
    assert (status, body["email"], body["name"]) == (200, ADA, "Ada")
    status, body = admin.get(f"/api/v2/system/admin/{jane.pk}")
    assert_error(status, body, 404, f"Record with identifier '{jane.pk}' not found.")
    assert admin.get(f"/api/v2/system/admin/{ada.pk}/")[1]["email"] == ADA  # trailing slash
    status, body = admin.get("/api/v2/system/admin/1/2/")
    assert_error(status, body, 404, "No system API resource at /api/v2/system/admin/1/2.")


def test_only_admins_reach_system_admin(admin_user: User, jane: User, anon: Api) -> None:
    jane_api = client_for(token=login("jane@example.com", "user-password-123"))
    status, body = jane_api.get("/api/v2/system/admin")
    assert status in (401, 403), body
    assert anon.get("/api/v2/system/admin")[0] == 401


def test_an_admin_creates_changes_and_deletes_another_admin(admin: Api, admin_user: User) -> None:
    new = {"email": "Grace@Example.com", "password": "cobol-compiler-1959", "first_name": "Grace"}
    status, body = admin.post("/api/v2/system/admin", {"resource": [new]})
    assert status == 201, body
    grace_id = body["resource"][0]["id"]
    assert admin_login("grace@example.com", "cobol-compiler-1959")[0] == 200  # an admin
    response = Client().post(
        "/api/v2/user/session",
        data={"email": "grace@example.com", "password": "cobol-compiler-1959"},
        content_type="application/json",
    )
    assert response.status_code == 401  # admins do not log in through the user service

    status, body = admin.patch(f"/api/v2/system/admin/{grace_id}", {"last_name": "Hopper"})
    assert (status, body) == (200, {"id": grace_id})
    assert User.objects.get(pk=grace_id).last_name == "Hopper"
    assert admin.delete(f"/api/v2/system/admin/{grace_id}") == (200, {"id": grace_id})
    assert not User.objects.filter(pk=grace_id).exists()


def test_the_last_active_admin_stays(admin: Api, admin_user: User) -> None:
    me = admin_user.pk
    status, body = admin.delete(f"/api/v2/system/admin/{me}")
    assert_error(status, body, 400, "The last active admin cannot be deleted", prefix=True)
    status, body = admin.patch(f"/api/v2/system/admin/{me}", {"is_active": False})
    assert_error(status, body, 400, "The last active admin cannot be deactivated", prefix=True)
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.is_staff
    assert admin.get("/api/v2/system/admin")[0] == 200  # still signed in


def test_an_admin_edits_their_own_profile_and_password(admin: Api, admin_user: User) -> None:
    status, body = admin.get("/api/v2/system/admin/profile")
    assert (status, body["email"]) == (200, admin_user.email)
    assert admin.post("/api/v2/system/admin/profile", {"first_name": "Root"}) == (
        200,
        {"success": True},
    )
    assert admin.get("/api/v2/system/admin/profile")[1]["first_name"] == "Root"

    change = {"old_password": ADMIN_PASSWORD, "new_password": "a-new-admin-passphrase-2"}
    assert admin.post("/api/v2/system/admin/password", change) == (200, {"success": True})
    assert admin_login(admin_user.email, "a-new-admin-passphrase-2")[0] == 200
    assert admin_login(admin_user.email, ADMIN_PASSWORD)[0] == 401


def test_users_cannot_use_the_admin_profile_or_password(jane: User) -> None:
    jane_api = client_for(token=login("jane@example.com", "user-password-123"))
    message = "You are not authorized to perform this action."
    assert_error(*jane_api.get("/api/v2/system/admin/profile"), 401, message)
    change = {"old_password": "user-password-123", "new_password": "a-new-passphrase-42"}
    status, body = jane_api.post("/api/v2/system/admin/password", change)
    assert_error(status, body, 401, "You are not authorized to reset/change password", prefix=True)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v2/system/user/{id}", {"first_name": "X"}),
        ("PUT", "/api/v2/system/user/{id}", {"first_name": "X"}),
        ("DELETE", "/api/v2/system/user/{id}", None),
        ("PATCH", "/api/v2/system/user", {"resource": [{"id": "{id}", "first_name": "X"}]}),
        ("DELETE", "/api/v2/system/user?ids={id}", None),
        ("DELETE", "/api/v2/system/user", {"resource": [{"id": "{id}"}]}),
    ],
)
def test_system_user_never_changes_an_admin(
    admin: Api, ada: User, method: str, path: str, body: object
) -> None:
    url = path.replace("{id}", str(ada.pk))
    if isinstance(body, dict) and "resource" in body:
        body = {"resource": [{**r, "id": ada.pk} for r in body["resource"]]}
    status, answer = admin.call(method, url, body)
    assert status == 403 or (status == 400 and NOT_ALLOWED in str(answer)), answer
    assert NOT_ALLOWED in str(answer)
    ada.refresh_from_db()
    assert (ada.first_name, ada.is_staff, ada.is_active) == ("Ada", True, True)


def test_system_user_never_changes_an_admin_by_ids(admin: Api, ada: User, jane: User) -> None:
    status, answer = admin.patch(
        "/api/v2/system/user", {"resource": [{"first_name": "X"}]}, ids=f"{jane.pk},{ada.pk}"
    )
    assert status in (400, 403), answer
    assert NOT_ALLOWED in str(answer)
    ada.refresh_from_db()
    assert ada.first_name == "Ada"


def test_an_admin_resets_a_forgotten_password_with_a_code(ada: User, anon: Api) -> None:
    reset = "/api/v2/system/admin/password"
    assert anon.post("/api/v2/user/password", {"email": ADA}, reset="true")[1] == {"success": True}
    assert mail.outbox == []  # the user service does not reset an admin's password
    assert anon.post(reset, {"email": ADA}, reset="true") == (200, {"success": True})
    found = re.search(r"Confirmation code: (\w+)", str(mail.outbox[0].body))
    assert found is not None
    finish = {"email": ADA, "code": found.group(1), "new_password": "analytical-engine-99"}
    status, body = anon.post(reset, finish, login="true")
    assert status == 200, body
    assert client_for(token=body["session_token"]).get("/api/v2/system/admin")[0] == 200
    assert admin_login(ADA, "analytical-engine-99")[0] == 200
