"""The system API for access control (spec §8.1, §9.1-9.2): roles with their access rules, apps
with their API keys, and non-admin users with their per-app roles.

Everything goes through HTTP with an admin session; the effects are checked where a user would
notice them: on the data API of service `shop` and at login.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from django.test import Client

from core.verbs import ALL_VERBS, GET, POST
from tests.conftest import (
    Api,
    assert_batch_error,
    assert_error,
    assign_role,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
)

pytestmark = pytest.mark.django_db

ROLE = "/api/v2/system/role"
APP = "/api/v2/system/app"
USER = "/api/v2/system/user"
RULES = "role_service_access_by_role_id"
APP_ROLES = "user_to_app_to_role_by_user_id"
TODO = "/api/v2/shop/_table/todo"
CUSTOMERS = "/api/v2/shop/_table/customers"
PASSWORD = "user-password-123"

NO_RECORDS = "No record(s) detected in request."
NO_CREDENTIALS = "No session token (JWT) or API Key detected in request."
MISSING_JWT = "No session token (JWT) provided."
NOT_AUTHORIZED = "You are not authorized to perform this action."
ROLE_INACTIVE = (
    "Access Forbidden. The role assigned to you or your application or the default role of "
    "your application is not active."
)
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def rule(
    service: Any, component: str = "_table/*", verb_mask: Any = GET, **kw: Any
) -> dict[str, Any]:
    return {
        "service_id": getattr(service, "pk", service),
        "component": component,
        "verb_mask": verb_mask,
        **kw,
    }


def create(api: Api, path: str, record: dict[str, Any], **query: Any) -> dict[str, Any]:
    """POST one record; the whole record back (fields=*) plus extras such as api_key."""
    status, body = api.post(path, [record], fields="*", **query)
    assert status == 201, body
    return body["resource"][0]


def rules_of(api: Api, role_id: int) -> list[dict[str, Any]]:
    status, body = api.get(f"{ROLE}/{role_id}", related=RULES)
    assert status == 200, body
    return body[RULES]


def role_count() -> int:
    from rbac.models import Role

    return Role.objects.count()


# --- roles -----------------------------------------------------------------------------------


def test_post_needs_a_list(api: Api) -> None:
    for path, record in ((ROLE, {"name": "r"}), (APP, {"name": "a"}), (USER, {"email": "u@x.io"})):
        status, body = api.post(path, record)
        assert_error(status, body, 400, NO_RECORDS, prefix=True)
        status, body = api.post(path, [])
        assert_error(status, body, 400, NO_RECORDS, prefix=True)
    assert role_count() == 0


def test_role_create_answers_ids_or_whole_records(api: Api) -> None:
    status, body = api.post(ROLE, [{"name": "reader"}, {"name": "writer", "description": "w"}])
    assert status == 201, body
    ids = [r["id"] for r in body["resource"]]
    assert body == {"resource": [{"id": ids[0]}, {"id": ids[1]}]}
    status, body = api.post(
        ROLE, {"resource": [{"name": "clerk", "db_role": "app_clerk"}]}, fields="*"
    )
    assert status == 201
    record = body["resource"][0]
    assert record["name"] == "clerk" and record["db_role"] == "app_clerk"
    assert record["is_active"] is True and record["description"] == ""
    assert record["created_date"] and record["last_modified_date"]
    status, body = api.post(ROLE, [{"name": "auditor"}], fields="name")
    assert (status, body) == (201, {"resource": [{"name": "auditor"}]})


def test_role_get_list_by_id_and_ids(api: Api) -> None:
    ids = [create(api, ROLE, {"name": n})["id"] for n in ("beta", "alpha", "gamma")]
    status, body = api.get(ROLE)
    assert status == 200
    assert [r["name"] for r in body["resource"]] == ["beta", "alpha", "gamma"]  # by id
    assert all(RULES not in r for r in body["resource"])
    status, body = api.get(f"{ROLE}/{ids[0]}")
    assert status == 200 and body["id"] == ids[0] and body["name"] == "beta"
    assert "resource" not in body
    status, body = api.get(ROLE, ids=f"{ids[0]},{ids[2]}")
    assert sorted(r["id"] for r in body["resource"]) == sorted([ids[0], ids[2]])
    status, body = api.get(ROLE, fields="name", limit=1, include_count="true")
    assert body == {"resource": [{"name": "beta"}], "meta": {"count": 3}}
    missing = max(ids) + 1000
    status, body = api.get(f"{ROLE}/{missing}")
    assert_error(status, body, 404, f"Record with identifier '{missing}' not found.")


def test_role_related_rules(api: Api, service: Any) -> None:
    role = create(api, ROLE, {"name": "reader", RULES: [rule(service)]})
    for related in (RULES, "*"):
        status, body = api.get(f"{ROLE}/{role['id']}", related=related)
        assert status == 200
        [only] = body[RULES]
        assert only["role_id"] == role["id"] and only["service_id"] == service.pk
        assert only["component"] == "_table/*" and only["verb_mask"] == GET
        assert only["requestor_mask"] == 1 and only["filters"] == [] and only["filter_op"] == "AND"
        status, body = api.get(ROLE, related=related)
        assert [len(r[RULES]) for r in body["resource"]] == [1]
    status, body = api.get(ROLE, related="nothing_by_role_id")
    assert_error(status, body, 400, "Unknown related list 'nothing_by_role_id'", prefix=True)
    status, body = api.get(f"{ROLE}/{role['id']}", related="nonsense")
    assert_error(status, body, 400, "Unknown related list 'nonsense'", prefix=True)


def test_role_patch_is_partial_and_put_is_an_alias(api: Api) -> None:
    role = create(api, ROLE, {"name": "reader", "description": "reads", "db_role": "app_r"})
    status, body = api.patch(f"{ROLE}/{role['id']}", {"description": "reads a lot"})
    assert (status, body) == (200, {"id": role["id"]})
    status, body = api.get(f"{ROLE}/{role['id']}")
    assert body["name"] == "reader" and body["db_role"] == "app_r"
    assert body["description"] == "reads a lot" and body["is_active"] is True
    status, body = api.put(f"{ROLE}/{role['id']}", {"is_active": False})
    assert (status, body) == (200, {"id": role["id"]})
    status, body = api.get(f"{ROLE}/{role['id']}")
    assert body["is_active"] is False and body["description"] == "reads a lot"
    # collection PATCH by records carrying ids
    status, body = api.patch(ROLE, [{"id": role["id"], "name": "renamed"}])
    assert (status, body) == (200, {"resource": [{"id": role["id"]}]})
    assert api.get(f"{ROLE}/{role['id']}")[1]["name"] == "renamed"
    status, body = api.patch(ROLE, [{"name": "no id"}])
    assert_batch_error(status, body, 0, "Required id field(s) not found in record 0: id.")


def test_role_delete(api: Api, service: Any) -> None:
    from rbac.models import RoleServiceAccess

    keep = create(api, ROLE, {"name": "keep"})
    gone = create(api, ROLE, {"name": "gone", RULES: [rule(service)]})
    assert api.delete(f"{ROLE}/{gone['id']}") == (200, {"id": gone["id"]})
    status, body = api.get(f"{ROLE}/{gone['id']}")
    assert_error(status, body, 404, f"Record with identifier '{gone['id']}' not found.")
    assert not RoleServiceAccess.objects.filter(role_id=gone["id"]).exists()
    assert [r["name"] for r in api.get(ROLE)[1]["resource"]] == ["keep"]
    status, body = api.delete(f"{ROLE}/{gone['id']}")
    assert status == 404
    another = create(api, ROLE, {"name": "another"})
    status, body = api.delete(ROLE, ids=f"{keep['id']},{another['id']}")
    assert status == 200 and sorted(r["id"] for r in body["resource"]) == sorted(
        [keep["id"], another["id"]]
    )
    assert role_count() == 0
    status, body = api.delete(ROLE)
    assert_error(status, body, 400, "No filter or records given for delete request.")


def test_nested_rules_update_detach_add_and_keep(api: Api, service: Any) -> None:
    role = create(
        api,
        ROLE,
        {
            "name": "clerk",
            RULES: [rule(service, "_table/todo"), rule(service, "_table/customers")],
        },
    )
    first, second = rules_of(api, role["id"])
    assert (first["component"], second["component"]) == ("_table/todo", "_table/customers")
    status, _ = api.patch(
        f"{ROLE}/{role['id']}",
        {
            RULES: [
                {"id": first["id"], "verb_mask": GET | POST},
                {"id": second["id"], "role_id": None},
                rule(service, "_table/orders", ["GET", "delete"]),
            ]
        },
    )
    assert status == 200
    now = rules_of(api, role["id"])
    assert [(r["component"], r["verb_mask"]) for r in now] == [
        ("_table/todo", GET | POST),
        ("_table/orders", GET | 16),
    ]
    assert now[0]["id"] == first["id"]  # updated in place
    # rules not mentioned are kept; a patch without the list leaves them all alone
    status, _ = api.patch(f"{ROLE}/{role['id']}", {RULES: [rule(service, "_proc/*")]})
    assert status == 200
    assert [r["component"] for r in rules_of(api, role["id"])] == [
        "_table/todo",
        "_table/orders",
        "_proc/*",
    ]
    assert api.patch(f"{ROLE}/{role['id']}", {"description": "x"})[0] == 200
    assert len(rules_of(api, role["id"])) == 3


def test_a_rule_of_another_role_cannot_be_touched(api: Api, service: Any) -> None:
    mine = create(api, ROLE, {"name": "mine"})
    theirs = create(api, ROLE, {"name": "theirs", RULES: [rule(service)]})
    [their_rule] = rules_of(api, theirs["id"])
    status, body = api.patch(
        f"{ROLE}/{mine['id']}", {RULES: [{"id": their_rule["id"], "role_id": None}]}
    )
    assert_error(
        status,
        body,
        400,
        f"{RULES}[0]: Access rule {their_rule['id']} does not belong",
        prefix=True,
    )
    assert rules_of(api, theirs["id"]) == [their_rule]


@pytest.mark.parametrize(
    ("bad_rule", "message"),
    [
        ({"verb_mask": 99}, "verb_mask must be an integer from 0 to 31"),
        ({"verb_mask": "GET"}, "verb_mask must be an integer from 0 to 31"),
        ({"verb_mask": True}, "verb_mask must be an integer from 0 to 31"),
        ({"verb_mask": -1}, "verb_mask must be an integer from 0 to 31"),
        ({"verb_mask": ["GET", "FETCH"]}, "Unknown verb 'FETCH'"),
        ({"service_id": 987654}, "Service with id '987654' does not exist."),
        ({"service_id": None, "component": "_table/*"}, "A rule for all services"),
        ({"service_id": None, "component": "_table/orders"}, "A rule for all services"),
        (
            {
                "service_id": None,
                "component": "*",
                "filters": [{"name": "id", "operator": "=", "value": "1"}],
            },
            "Row filters need a service",
        ),
        (
            {"filters": [{"name": "id", "operator": "~~", "value": "1"}]},
            "Row filter 1 has an unknown operator '~~'",
        ),
        (
            {
                "filters": [
                    {"name": "id", "operator": "=", "value": "1"},
                    {"operator": "=", "value": "2"},
                ]
            },
            "Row filter 2 needs a field 'name'",
        ),
        ({"filters": [{"name": "", "operator": "=", "value": "1"}]}, "Row filter 1 needs a field"),
        ({"requestor_mask": 7}, "requestor_mask must be 1 (API), 2 (SCRIPT) or 3 (both)."),
        ({"component": 5}, "component must be a string"),
    ],
)
def test_rule_validation_names_the_record_and_the_rule(
    api: Api, service: Any, bad_rule: dict[str, Any], message: str
) -> None:
    records = [
        {"name": "fine", RULES: [rule(service)]},
        {"name": "broken", RULES: [rule(service, "_table/todo"), {**rule(service), **bad_rule}]},
    ]
    status, body = api.post(ROLE, records)
    assert_batch_error(status, body, 1, f"{RULES}[1]: {message}", prefix=True)
    assert role_count() == 1  # the batch stopped there; the first record stays (spec §3.8)
    # the same rule in an update names the rule and changes nothing
    role = create(api, ROLE, {"name": "existing", RULES: [rule(service, "_table/todo")]})
    before = rules_of(api, role["id"])
    status, body = api.patch(
        f"{ROLE}/{role['id']}", {"description": "changed", RULES: [{**rule(service), **bad_rule}]}
    )
    assert_error(status, body, 400, f"{RULES}[0]: {message}", prefix=True)
    assert rules_of(api, role["id"]) == before
    assert api.get(f"{ROLE}/{role['id']}")[1]["description"] == ""


def test_rule_for_all_services_with_star_and_verb_names(api: Api, service: Any) -> None:
    role = create(
        api,
        ROLE,
        {
            "name": "everything",
            RULES: [
                {"service_id": None, "component": "*", "verb_mask": ["get", "POST"]},
                rule(
                    service,
                    "_table/todo/*",
                    ALL_VERBS,
                    filter_op="or",
                    filters=[
                        {"name": "complete", "operator": "IS NULL"},
                        {"name": "name", "operator": "starts with", "value": "'B'"},
                    ],
                ),
            ],
        },
    )
    everything, filtered = rules_of(api, role["id"])
    assert everything["service_id"] is None and everything["verb_mask"] == GET | POST
    assert filtered["filter_op"] == "OR" and len(filtered["filters"]) == 2


def test_role_name_is_unique(api: Api) -> None:
    first = create(api, ROLE, {"name": "reader"})
    status, body = api.post(ROLE, [{"name": "reader"}])
    error = assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    assert "name" in error["message"]
    other = create(api, ROLE, {"name": "writer"})
    status, body = api.patch(f"{ROLE}/{other['id']}", {"name": "reader"})
    assert_error(status, body, 400, "Validation failed:", prefix=True)
    assert api.get(f"{ROLE}/{other['id']}")[1]["name"] == "writer"
    assert api.patch(f"{ROLE}/{first['id']}", {"name": "reader"})[0] == 200  # itself is fine
    status, body = api.post(ROLE, [{"description": "no name"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    status, body = api.post(ROLE, [{"name": "x" * 65}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)


@pytest.mark.parametrize("db_role", ["1abc", "bad role", "x; DROP TABLE todo", "a-b", "a" * 64])
def test_db_role_is_validated(api: Api, db_role: str) -> None:
    status, body = api.post(ROLE, [{"name": "r", "db_role": db_role}])
    error = assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    assert "db_role" in error["message"]
    assert role_count() == 0


@pytest.mark.parametrize("db_role", ["", "app_reader", "_x", "Role$1", "a" * 63])
def test_db_role_accepts_postgres_role_names(api: Api, db_role: str) -> None:
    assert create(api, ROLE, {"name": "r", "db_role": db_role})["db_role"] == db_role


# --- apps ------------------------------------------------------------------------------------


@pytest.fixture
def reader_role(service: Any) -> Any:
    return make_role(
        "todo reader", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )


def test_app_key_is_shown_once(api: Api, reader_role: Any) -> None:
    from apikeys.models import App

    status, body = api.post(APP, [{"name": "Dashboard", "role_id": reader_role.pk}])
    assert status == 201, body
    [created] = body["resource"]
    key = created["api_key"]
    assert HEX64.match(key)
    assert set(created) == {"id", "api_key"}
    app_id = created["id"]
    status, one = api.get(f"{APP}/{app_id}")
    assert status == 200 and "api_key" not in one
    assert one["api_key_prefix"] == key[:8]
    assert one["name"] == "Dashboard" and one["role_id"] == reader_role.pk and one["is_active"]
    for answer in (
        one,
        api.get(APP)[1],
        api.get(APP, fields="*", related="*")[1],
        api.patch(f"{APP}/{app_id}", {"description": "d"}, fields="*")[1],
    ):
        assert key not in orjson.dumps(answer).decode()
        assert "api_key" not in orjson.dumps(answer).decode().replace("api_key_prefix", "")
    stored = App.objects.get(pk=app_id)
    assert stored.api_key_digest != key and key not in stored.api_key_digest
    assert stored.api_key_prefix == key[:8]
    # the key works on the data API with the app's default role
    status, rows = client_for(api_key=key).get(TODO)
    assert status == 200 and len(rows["resource"]) == 5
    status, body = api.get(f"{APP}/{app_id}", related="role_by_role_id")
    assert body["role_by_role_id"] == {
        "id": reader_role.pk,
        "name": "todo reader",
        "is_active": True,
    }


def test_app_create_with_fields_star_still_shows_the_key_once(api: Api) -> None:
    record = create(api, APP, {"name": "Kiosk"})
    assert HEX64.match(record["api_key"]) and record["api_key_prefix"] == record["api_key"][:8]
    assert record["role_id"] is None and record["is_active"] is True
    other = create(api, APP, {"name": "Kiosk 2"})
    assert other["api_key"] != record["api_key"]


def test_regenerate_replaces_the_key_at_once(api: Api, reader_role: Any) -> None:
    app = create(api, APP, {"name": "Dashboard", "role_id": reader_role.pk})
    old = app["api_key"]
    assert client_for(api_key=old).get(TODO)[0] == 200
    status, body = api.patch(f"{APP}/{app['id']}", {}, regenerate="true")
    assert status == 200, body
    new = body["api_key"]
    assert body == {"id": app["id"], "api_key": new}
    assert HEX64.match(new) and new != old
    status, answer = client_for(api_key=old).get(TODO)
    assert_error(status, answer, 401, MISSING_JWT, prefix=True)
    assert client_for(api_key=new).get(TODO)[0] == 200
    assert api.get(f"{APP}/{app['id']}")[1]["api_key_prefix"] == new[:8]
    # without regenerate the key stays and is not shown
    status, body = api.patch(f"{APP}/{app['id']}", {"description": "still the same key"})
    assert (status, body) == (200, {"id": app["id"]})
    assert client_for(api_key=new).get(TODO)[0] == 200


def test_deactivated_app_key_is_refused(api: Api, reader_role: Any) -> None:
    app = create(api, APP, {"name": "Dashboard", "role_id": reader_role.pk})
    assert client_for(api_key=app["api_key"]).get(TODO)[0] == 200
    assert api.patch(f"{APP}/{app['id']}", {"is_active": False}) == (200, {"id": app["id"]})
    status, body = client_for(api_key=app["api_key"]).get(TODO)
    assert_error(status, body, 401, MISSING_JWT, prefix=True)
    assert api.patch(f"{APP}/{app['id']}", {"is_active": True})[0] == 200
    assert client_for(api_key=app["api_key"]).get(TODO)[0] == 200
    assert api.delete(f"{APP}/{app['id']}") == (200, {"id": app["id"]})
    assert client_for(api_key=app["api_key"]).get(TODO)[0] == 401


def test_app_validation(api: Api, reader_role: Any) -> None:
    create(api, APP, {"name": "Dashboard"})
    status, body = api.post(APP, [{"name": "Dashboard"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    status, body = api.post(APP, [{"name": "Other", "role_id": 987654}])
    error = assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    assert "role_id" in error["message"]
    status, body = api.post(APP, [{"description": "no name"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    from apikeys.models import App

    assert list(App.objects.values_list("name", flat=True)) == ["Dashboard"]


def test_a_key_sent_in_the_body_is_ignored(api: Api) -> None:
    chosen = "ab" * 32
    record = create(api, APP, {"name": "Mine", "api_key": chosen})
    assert record["api_key"] != chosen
    assert client_for(api_key=chosen).get(TODO)[0] == 401


# --- users -----------------------------------------------------------------------------------


def test_user_create_and_login(api: Api) -> None:
    secret = "a-long-user-password"
    status, body = api.post(
        USER,
        [{"email": "Jane@Example.com", "password": secret, "first_name": "Jane", "last_name": "D"}],
    )
    assert status == 201 and set(body["resource"][0]) == {"id"}
    user_id = body["resource"][0]["id"]
    status, record = api.get(f"{USER}/{user_id}")
    assert record["email"] == "jane@example.com" and record["name"] == "Jane D"
    assert record["is_active"] is True and record["last_login_date"] is None
    assert "password" not in record
    token = login("jane@example.com", secret)
    assert token
    assert api.get(f"{USER}/{user_id}")[1]["last_login_date"] is not None
    # never returned, in any answer
    for answer in (
        api.get(USER)[1],
        api.get(USER, fields="*", related="*")[1],
        api.post(USER, [{"email": "b@example.com", "password": secret}], fields="*")[1],
    ):
        text = orjson.dumps(answer).decode()
        assert secret not in text and '"password"' not in text


def test_user_without_a_password_cannot_log_in(api: Api) -> None:
    status, _ = api.post(USER, [{"email": "nopw@example.com"}])
    assert status == 201
    status, body = Api(Client(), {}).post(
        "/api/v2/user/session", {"email": "nopw@example.com", "password": ""}
    )
    assert status == 400
    status, body = Api(Client(), {}).post(
        "/api/v2/user/session", {"email": "nopw@example.com", "password": "anything-at-all"}
    )
    assert_error(status, body, 401, "Invalid credentials supplied.")


def test_user_password_change_through_patch(api: Api) -> None:
    user = make_user("jane@example.com", PASSWORD)
    new = "another-long-password"
    assert api.patch(f"{USER}/{user.pk}", {"password": new}) == (200, {"id": user.pk})
    login("jane@example.com", new)
    status, body = Api(Client(), {}).post(
        "/api/v2/user/session", {"email": "jane@example.com", "password": PASSWORD}
    )
    assert_error(status, body, 401, "Invalid credentials supplied.")


def test_users_list_excludes_admins_and_admins_cannot_be_changed(api: Api, admin_user: Any) -> None:
    make_user("jane@example.com")
    status, body = api.get(USER)
    assert status == 200
    assert [u["email"] for u in body["resource"]] == ["jane@example.com"]
    status, body = api.get(USER, ids=str(admin_user.pk))  # not a user record: not found
    assert_batch_error(
        status, body, 0, f"Record with identifier '{admin_user.pk}' not found.", expected=404
    )
    status, body = api.patch(f"{USER}/{admin_user.pk}", {"first_name": "Mallory"})
    assert_error(status, body, 403, "Not allowed to change an admin user.")
    status, body = api.patch(f"{USER}/{admin_user.pk}", {"is_active": False})
    assert_error(status, body, 403, "Not allowed to change an admin user.")
    status, body = api.patch(USER, [{"id": admin_user.pk, "password": "taken-over-12345"}])
    assert_batch_error(status, body, 0, "Not allowed to change an admin user.", expected=403)
    status, body = api.delete(f"{USER}/{admin_user.pk}")
    assert_error(status, body, 403, "Not allowed to change an admin user.")
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.first_name == "" and admin_user.is_staff
    assert admin_user.check_password("correct-horse-battery")


def test_users_created_here_are_never_admins(api: Api) -> None:
    from rbac.models import User

    record = create(
        api,
        USER,
        {
            "email": "sneaky@example.com",
            "password": "a-long-password-1",
            "is_sys_admin": True,
            "is_staff": True,
            "is_superuser": True,
        },
    )
    user = User.objects.get(pk=record["id"])
    assert not user.is_staff and not user.is_superuser
    status, body = Api(Client(), {}).post(
        "/api/v2/system/admin/session",
        {"email": "sneaky@example.com", "password": "a-long-password-1"},
    )
    assert_error(status, body, 401, "Invalid credentials supplied.")
    status, _ = api.patch(f"{USER}/{user.pk}", {"is_staff": True, "is_sys_admin": True})
    assert status == 200
    user.refresh_from_db()
    assert not user.is_staff


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short", "too short"), ("98765432101234", "entirely numeric"), ("password1", "too common")],
)
def test_user_weak_password_is_400(api: Api, password: str, problem: str) -> None:
    status, body = api.post(USER, [{"email": "weak@example.com", "password": password}])
    error = assert_batch_error(status, body, 0, "Password not accepted:", prefix=True)
    assert problem in error["message"]
    user = make_user("jane@example.com", PASSWORD)
    status, body = api.patch(f"{USER}/{user.pk}", {"password": password})
    assert_error(status, body, 400, "Password not accepted:", prefix=True)
    login("jane@example.com", PASSWORD)  # unchanged
    from rbac.models import User

    assert not User.objects.filter(email="weak@example.com").exists()


def test_user_email_is_unique_and_required(api: Api, admin_user: Any) -> None:
    make_user("jane@example.com")
    for email in ("jane@example.com", "admin@example.com"):
        status, body = api.post(USER, [{"email": email, "password": "a-long-password-1"}])
        error = assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
        assert "email" in error["message"]
    status, body = api.post(USER, [{"first_name": "No email"}])
    assert_batch_error(status, body, 0, "A user needs an email.")
    status, body = api.post(USER, [{"email": "not-an-email"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    from rbac.models import User

    assert User.objects.filter(is_staff=False).count() == 1


def test_nested_app_role_is_what_login_reports(api: Api, reader_role: Any) -> None:
    todo_app, key = make_app("Todo app")  # no default role
    other_app, _other_key = make_app("Other app")
    writer = make_role("writer", [])
    record = create(
        api,
        USER,
        {
            "email": "jane@example.com",
            "password": PASSWORD,
            APP_ROLES: [{"app_id": todo_app.pk, "role_id": reader_role.pk}],
        },
        related=APP_ROLES,
    )
    [link] = record[APP_ROLES]
    assert link["app_id"] == todo_app.pk and link["role_id"] == reader_role.pk
    response = Client().post(
        "/api/v2/user/session",
        data={"email": "jane@example.com", "password": PASSWORD},
        content_type="application/json",
        headers={"X-DreamFactory-Api-Key": key},
    )
    assert response.status_code == 200, response.content
    session = response.json()
    assert session["role"] == "todo reader" and session["role_id"] == reader_role.pk
    assert client_for(key, session["session_token"]).get(TODO)[0] == 200
    # switch the role by id, add one for another app
    status, _ = api.patch(
        f"{USER}/{record['id']}",
        {
            APP_ROLES: [
                {"id": link["id"], "role_id": writer.pk},
                {"app_id": other_app.pk, "role_id": reader_role.pk},
            ]
        },
    )
    assert status == 200
    links = api.get(f"{USER}/{record['id']}", related=APP_ROLES)[1][APP_ROLES]
    assert [(x["app_id"], x["role_id"]) for x in links] == [
        (todo_app.pk, writer.pk),
        (other_app.pk, reader_role.pk),
    ]
    status, body = client_for(key, session["session_token"]).get(TODO)
    assert_error(status, body, 403, "Access Forbidden.", prefix=True)
    # detach with user_id null
    status, _ = api.patch(
        f"{USER}/{record['id']}", {APP_ROLES: [{"id": link["id"], "user_id": None}]}
    )
    assert status == 200
    links = api.get(f"{USER}/{record['id']}", related=APP_ROLES)[1][APP_ROLES]
    assert [(x["app_id"], x["role_id"]) for x in links] == [(other_app.pk, reader_role.pk)]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"app_id": 987654, "role_id": "ROLE"}, "App with id '987654' does not exist."),
        ({"app_id": "APP", "role_id": 987654}, "Role with id '987654' does not exist."),
        ({"role_id": "ROLE"}, "'app_id' must be the integer id of a record, not None."),
    ],
)
def test_nested_app_role_validation(
    api: Api, reader_role: Any, item: dict[str, Any], message: str
) -> None:
    app, _key = make_app("Todo app")
    item = {k: {"APP": app.pk, "ROLE": reader_role.pk}.get(v, v) for k, v in item.items()}
    status, body = api.post(USER, [{"email": "jane@example.com", APP_ROLES: [item]}])
    assert_batch_error(status, body, 0, f"{APP_ROLES}[0]: {message}")
    from rbac.models import User

    assert not User.objects.filter(email="jane@example.com").exists()


def test_user_delete(api: Api) -> None:
    user = make_user("jane@example.com", PASSWORD)
    assert api.delete(f"{USER}/{user.pk}") == (200, {"id": user.pk})
    assert api.get(USER)[1] == {"resource": []}
    status, body = api.get(f"{USER}/{user.pk}")
    assert_error(status, body, 404, f"Record with identifier '{user.pk}' not found.")


# --- who may call the system API -------------------------------------------------------------


ENDPOINTS = [
    ("GET", ROLE, None),
    ("POST", ROLE, [{"name": "intruder"}]),
    ("PATCH", ROLE, [{"id": "ROLE", "name": "intruder"}]),
    ("DELETE", ROLE, None),
    ("GET", f"{ROLE}/ROLE", None),
    ("PATCH", f"{ROLE}/ROLE", {"name": "intruder"}),
    ("PUT", f"{ROLE}/ROLE", {"name": "intruder"}),
    ("DELETE", f"{ROLE}/ROLE", None),
    ("GET", APP, None),
    ("POST", APP, [{"name": "intruder"}]),
    ("GET", f"{APP}/APP", None),
    ("PATCH", f"{APP}/APP", {"name": "intruder"}),
    ("DELETE", f"{APP}/APP", None),
    ("GET", USER, None),
    ("POST", USER, [{"email": "intruder@example.com", "password": "a-long-password-1"}]),
    ("GET", f"{USER}/USER", None),
    ("PATCH", f"{USER}/USER", {"first_name": "intruder"}),
    ("DELETE", f"{USER}/USER", None),
    ("GET", "/api/v2/system/service", None),
]


@pytest.fixture
def personas(service: Any, admin_user: Any) -> dict[str, Any]:
    """A role, app and user that the refused calls would touch, and their credentials."""
    from apikeys.models import App
    from rbac.models import Role, User

    role = make_role(
        "todo reader", [{"service": service, "component": "*", "verb_mask": ALL_VERBS}]
    )
    app, key = make_app("Todo app", role)
    user = make_user("jane@example.com", PASSWORD)
    assign_role(user, app, role)
    ids = {"ROLE": role.pk, "APP": app.pk, "USER": user.pk}

    def snapshot() -> list[Any]:
        return [
            list(Role.objects.values_list("id", "name", "is_active")),
            list(App.objects.values_list("id", "name", "is_active", "api_key_digest")),
            list(User.objects.values_list("id", "email", "first_name", "is_active", "password")),
        ]

    return {
        "ids": ids,
        "key": key,
        "token": login("jane@example.com", PASSWORD, key),
        "snapshot": snapshot,
    }


def _resolve(value: Any, ids: dict[str, int]) -> Any:
    text = orjson.dumps(value).decode()
    for name, pk in ids.items():
        text = text.replace(f'"{name}"', str(pk)).replace(f"/{name}", f"/{pk}")
    return orjson.loads(text)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
@pytest.mark.parametrize("caller", ["nobody", "app key", "user"])
def test_system_api_needs_an_admin(
    personas: dict[str, Any], caller: str, method: str, path: str, body: Any
) -> None:
    ids = personas["ids"]
    path = _resolve(path, ids)
    body = _resolve(body, ids)
    query = {"ids": str(ids["ROLE"])} if method == "DELETE" and path == ROLE else {}
    client = {
        "nobody": client_for(),
        "app key": client_for(api_key=personas["key"]),
        "user": client_for(personas["key"], personas["token"]),
    }[caller]
    before = personas["snapshot"]()
    status, answer = client.call(method, path, body, **query)
    if caller == "user":
        assert_error(status, answer, 403, NOT_AUTHORIZED)
    else:
        assert_error(status, answer, 401, NO_CREDENTIALS, prefix=True)
    assert personas["snapshot"]() == before


@pytest.mark.parametrize(
    ("path", "record"),
    [(ROLE, {"name": "reader"}), (APP, {"name": "Dashboard"}), (USER, {"email": "j@example.com"})],
)
def test_malformed_json_is_a_400_envelope(api: Api, path: str, record: dict[str, Any]) -> None:
    existing = create(api, path, record)
    status, body = api.post(path, raw=b'[{"name": "broken",')
    assert_error(status, body, 400, "Malformed JSON in request body", prefix=True)
    status, body = api.patch(f"{path}/{existing['id']}", raw=b"{not json}")
    assert_error(status, body, 400, "Malformed JSON in request body", prefix=True)
    status, body = api.patch(path, raw=b"[")
    assert_error(status, body, 400, "Malformed JSON in request body", prefix=True)
    status, body = api.get(path)
    assert status == 200 and len(body["resource"]) == 1
    assert {k: body["resource"][0][k] for k in record} == record


@pytest.mark.parametrize(
    "path",
    [
        f"{ROLE}/abc",
        f"{APP}/abc",
        f"{USER}/abc",
    ],
)
def test_non_numeric_id_is_404(api: Api, path: str) -> None:
    status, body = api.get(path)
    assert_error(status, body, 404, "Record with identifier 'abc' not found.")
    status, body = api.patch(path, {"name": "x"})
    assert_error(status, body, 404, "Record with identifier 'abc' not found.")


# --- input the system API should refuse with a 400 (known bugs) ------------------------------


def test_an_email_differing_only_in_case_is_a_duplicate(api: Api) -> None:
    make_user("jane@example.com")
    other = make_user("bob@example.com")
    status, body = api.post(USER, [{"email": "JANE@example.com", "password": "a-long-password-1"}])
    error = assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    assert "email" in error["message"]
    status, body = api.patch(f"{USER}/{other.pk}", {"email": "Jane@Example.com"})
    assert_error(status, body, 400, "Validation failed:", prefix=True)


@pytest.mark.parametrize(
    ("where", "item", "message"),
    [
        (ROLE, {"id": "abc", "verb_mask": 1}, "role_service_access_by_role_id[0]:"),
        (ROLE, {"service_id": "abc"}, "role_service_access_by_role_id[0]:"),
        (USER, {"app_id": "abc", "role_id": "ROLE"}, "user_to_app_to_role_by_user_id[0]:"),
        (USER, {"id": "abc", "role_id": "ROLE"}, "user_to_app_to_role_by_user_id[0]:"),
    ],
)
def test_non_integer_ids_in_nested_lists_are_400(
    api: Api, service: Any, reader_role: Any, where: str, item: dict[str, Any], message: str
) -> None:
    item = {k: reader_role.pk if v == "ROLE" else v for k, v in item.items()}
    if where == ROLE:
        target = create(api, ROLE, {"name": "clerk", RULES: [rule(service)]})
        status, body = api.patch(f"{ROLE}/{target['id']}", {RULES: [item]})
    else:
        target = create(api, USER, {"email": "jane@example.com"})
        status, body = api.patch(f"{USER}/{target['id']}", {APP_ROLES: [item]})
    assert_error(status, body, 400, message, prefix=True)


def test_moving_an_app_role_onto_an_app_already_assigned_is_400(api: Api, reader_role: Any) -> None:
    first, _ = make_app("First")
    second, _ = make_app("Second")
    links = [{"app_id": a.pk, "role_id": reader_role.pk} for a in (first, second)]
    user = create(api, USER, {"email": "jane@example.com", APP_ROLES: links}, related=APP_ROLES)
    status, body = api.patch(
        f"{USER}/{user['id']}", {APP_ROLES: [{"id": user[APP_ROLES][1]["id"], "app_id": first.pk}]}
    )
    assert_error(status, body, 400, f"{APP_ROLES}[0]:", prefix=True)


def test_filter_op_must_be_and_or(api: Api, service: Any) -> None:
    status, body = api.post(ROLE, [{"name": "clerk", RULES: [rule(service, filter_op="XOR")]}])
    assert_batch_error(status, body, 0, f"{RULES}[0]: filter_op must be AND or OR.")
    assert role_count() == 0


# --- changes take effect on the data API at once ---------------------------------------------


def test_changes_reach_the_data_api_without_a_restart(api: Api, service: Any) -> None:
    from core.models import MetadataVersion

    def stamp() -> int:
        row = MetadataVersion.objects.filter(pk=1).values_list("version", flat=True).first()
        return int(row or 0)

    role = create(api, ROLE, {"name": "clerk", RULES: [rule(service, "_table/todo")]})
    app = create(api, APP, {"name": "Shop app"})
    user = create(
        api,
        USER,
        {
            "email": "jane@example.com",
            "password": PASSWORD,
            APP_ROLES: [{"app_id": app["id"], "role_id": role["id"]}],
        },
        related=APP_ROLES,
    )
    jane = client_for(app["api_key"], login("jane@example.com", PASSWORD, app["api_key"]))
    assert jane.get(TODO)[0] == 200
    status, body = jane.get(CUSTOMERS)
    assert_error(
        status,
        body,
        403,
        "Access Forbidden. GET access to component '_table/customers'",
        prefix=True,
    )
    # grant the table: the very next request sees it, and the version stamp moved
    version = stamp()
    status, _ = api.patch(f"{ROLE}/{role['id']}", {RULES: [rule(service, "_table/customers")]})
    assert status == 200
    assert stamp() > version
    status, rows = jane.get(CUSTOMERS)
    assert status == 200 and len(rows["resource"]) == 3
    # narrow a rule: POST on todo was never granted, then it is
    assert jane.post(TODO, [{"name": "new task"}])[0] == 403
    [todo_rule] = [r for r in rules_of(api, role["id"]) if r["component"] == "_table/todo"]
    api.patch(f"{ROLE}/{role['id']}", {RULES: [{"id": todo_rule["id"], "verb_mask": GET | POST}]})
    assert jane.post(TODO, [{"name": "new task"}])[0] == 200
    # deactivate the role
    assert api.patch(f"{ROLE}/{role['id']}", {"is_active": False})[0] == 200
    status, body = jane.get(TODO)
    assert_error(status, body, 403, ROLE_INACTIVE)
    assert api.patch(f"{ROLE}/{role['id']}", {"is_active": True})[0] == 200
    assert jane.get(TODO)[0] == 200
    # take the user's role away: no role for the app, no default role
    api.patch(
        f"{USER}/{user['id']}", {APP_ROLES: [{"id": user[APP_ROLES][0]["id"], "user_id": None}]}
    )
    status, body = jane.get(TODO)
    assert_error(status, body, 403, "Role not found.", prefix=True)
    # deleting the role
    api.patch(f"{USER}/{user['id']}", {APP_ROLES: [{"app_id": app["id"], "role_id": role["id"]}]})
    assert jane.get(TODO)[0] == 200
    assert api.delete(f"{ROLE}/{role['id']}")[0] == 200
    assert jane.get(TODO)[0] == 403


def test_a_changed_rule_is_seen_by_a_process_that_cached_the_old_one(
    api: Api, service: Any
) -> None:
    """Another process learns of a change only through the version stamp: simulate it by
    restoring a stale in-process snapshot after the change and polling again."""
    from core.metadata import stamp
    from rbac import catalog

    role = make_role("clerk", [{"service": service, "component": "_table/todo", "verb_mask": GET}])
    app, key = make_app("Shop app", role)
    assert client_for(api_key=key).get(TODO)[0] == 200
    stale_roles = catalog.catalog.all_roles()
    stale_version = stamp._version
    assert api.patch(f"{ROLE}/{role.pk}", {"is_active": False})[0] == 200
    # pretend this process never saw the change: old snapshot, old version, poll due now
    catalog.catalog.roles = stale_roles
    stamp._version = stale_version
    stamp._checked_at = 0.0
    status, body = client_for(api_key=key).get(TODO)
    assert_error(status, body, 403, ROLE_INACTIVE)


def test_json_bodies_are_read_whatever_their_content_type(admin_token: str) -> None:
    """`curl -d '{...}'` sends application/x-www-form-urlencoded: the body is still JSON."""
    client = Client()
    headers = {"X-DreamFactory-Session-Token": admin_token}
    body = '{"resource": [{"name": "sniffed"}]}'
    for content_type in ("application/x-www-form-urlencoded", "text/plain"):
        response = client.post(ROLE, data=body, content_type=content_type, headers=headers)
        assert response.status_code == 201, response.content
        client.delete(f"{ROLE}/{response.json()['resource'][0]['id']}", headers=headers)
    response = client.post(
        ROLE, data="name=form", content_type="application/x-www-form-urlencoded", headers=headers
    )
    assert_error(response.status_code, response.json(), 400, "Malformed JSON", prefix=True)
