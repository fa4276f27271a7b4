"""The record conventions every system resource shares (spec §1.2, §3.8, §9.1): read options
(`filter`, `order`, `limit`, `offset`, `include_count`), writes by `ids` or `filter`, `fields`
on DELETE, verb tunnelling, and batches that stop, continue or roll back.

Everything goes through HTTP with an admin session; effects are checked by reading back.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, assert_batch_error, assert_error

pytestmark = pytest.mark.django_db

SYSTEM = "/api/v2/system"
ROLE = f"{SYSTEM}/role"
APP = f"{SYSTEM}/app"
USER = f"{SYSTEM}/user"
SERVICE = f"{SYSTEM}/service"
LIMIT = f"{SYSTEM}/limit"
GET = {"X-HTTP-Method": "GET"}
CREATE_BATCH = "Batch Error: Not all requested records could be created."
UPDATE_BATCH = "Batch Error: Not all requested records could be updated."
DELETE_BATCH = "Batch Error: Not all requested records could be deleted."


def create(api: Api, path: str, *records: dict[str, Any]) -> list[int]:
    status, body = api.post(path, list(records))
    assert status == 201, body
    return [r["id"] for r in body["resource"]]


def names(body: Any, key: str = "name") -> list[Any]:
    assert isinstance(body, dict) and "resource" in body, body
    return [r[key] for r in body["resource"]]


def users(api: Api) -> list[int]:
    """Three users created in the reverse order of their emails and first names."""
    return create(
        api,
        USER,
        {"email": "carol@example.com", "first_name": "Carol", "last_name": "Zed"},
        {"email": "bob@example.com", "first_name": "Bob", "last_name": "Zed"},
        {"email": "alice@example.com", "first_name": "Alice", "last_name": "Young"},
    )


def roles(api: Api) -> list[int]:
    return create(
        api,
        ROLE,
        {"name": "gamma", "description": "third"},
        {"name": "alpha", "description": "first", "is_active": False},
        {"name": "beta"},
    )


def ids_of(body: Any) -> list[int]:
    return names(body, "id")


# --- 1. read options ------------------------------------------------------------------------


def test_lists_default_to_primary_key_order_and_honour_order(api: Api) -> None:
    ids = users(api)
    status, body = api.get(USER)
    assert status == 200 and ids_of(body) == ids  # not by email (the model's ordering)
    _, body = api.get(USER, order="first_name DESC")
    assert names(body, "first_name") == ["Carol", "Bob", "Alice"]
    _, body = api.get(USER, order="first_name asc")
    assert names(body, "first_name") == ["Alice", "Bob", "Carol"]
    _, body = api.get(USER, order="last_name desc, id desc")
    assert ids_of(body) == [ids[1], ids[0], ids[2]]
    role_ids = roles(api)
    _, body = api.get(ROLE)
    assert ids_of(body) == role_ids
    _, body = api.get(ROLE, order="name asc, id desc")
    assert names(body) == ["alpha", "beta", "gamma"]


def test_order_applies_to_reads_by_ids(api: Api) -> None:
    ids = users(api)
    listed = f"{ids[2]},{ids[0]}"
    status, body = api.get(USER, ids=listed)
    assert status == 200 and ids_of(body) == [ids[0], ids[2]]  # by primary key (spec §9.1)
    _, body = api.get(USER, ids=listed, order="email desc")
    assert names(body, "email") == ["carol@example.com", "alice@example.com"]


def test_unknown_or_bad_order_is_400(api: Api) -> None:
    users(api)
    status, body = api.get(USER, order="shoe_size desc")
    assert_error(status, body, 400, "Invalid field 'shoe_size' in order by clause.")
    status, body = api.get(USER, order="password")  # not a record field
    assert_error(status, body, 400, "Invalid field 'password' in order by clause.")
    status, body = api.get(ROLE, order="name;drop table x")
    assert_error(status, body, 400, "Invalid order by clause in request.")


def test_limit_offset_and_include_count_on_users(api: Api) -> None:
    ids = users(api)
    status, body = api.get(USER, order="first_name DESC", limit=2, offset=1, include_count="true")
    assert status == 200
    assert names(body, "first_name") == ["Bob", "Alice"]
    assert body["meta"] == {"count": 3}
    _, body = api.get(USER, limit=1)
    assert ids_of(body) == ids[:1]
    _, body = api.get(USER, limit="junk", offset=2)  # DF casts junk to 0: no limit
    assert ids_of(body) == ids[2:]
    status, body = api.get(USER, count_only="true", filter="last_name='Zed'")
    assert (status, body) == (200, 2)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("name='zzz'", []),
        ("name = 'beta'", ["beta"]),
        ("name like 'a%'", ["alpha"]),
        ("name LIKE '%A'", ["gamma", "alpha", "beta"]),
        ("name like '_eta'", ["beta"]),
        ("is_active=true", ["gamma", "beta"]),
        ("is_active = false", ["alpha"]),
        ("(is_active=true) and (name != 'beta')", ["gamma"]),
        ("(name='alpha') or (description contains 'thi')", ["gamma", "alpha"]),
        ("name in ('beta','alpha')", ["alpha", "beta"]),
        ("name not in ('beta','alpha')", ["gamma"]),
        ("NOT (name starts with 'g')", ["alpha", "beta"]),
        ("name ends with 'ta'", ["beta"]),
        ("db_role = ''", ["gamma", "alpha", "beta"]),
    ],
)
def test_filter_on_roles(api: Api, flt: str, expected: list[str]) -> None:
    roles(api)
    status, body = api.get(ROLE, filter=flt)
    assert status == 200, body
    assert names(body) == expected


def test_filter_by_ids_and_numbers_on_every_resource(api: Api, service: Any) -> None:
    role_ids = roles(api)
    user_ids = users(api)
    app_ids = create(api, APP, {"name": "one", "role_id": role_ids[0]}, {"name": "two"})
    limit_ids = create(
        api,
        LIMIT,
        {"name": "fast", "type": "instance", "rate": 100, "period": "minute"},
        {"name": "slow", "type": "instance", "rate": 5, "period": "hour"},
    )
    cases = [
        (ROLE, f"id in ({role_ids[2]},{role_ids[0]})", [role_ids[0], role_ids[2]]),
        (ROLE, f"id like '{role_ids[1]}'", [role_ids[1]]),  # a number matched as text
        (ROLE, f"id between {role_ids[1]} and {role_ids[2]}", role_ids[1:]),
        (USER, f"(id > {user_ids[0]}) AND (last_name = 'Zed')", [user_ids[1]]),
        (USER, "email like 'a%'", [user_ids[2]]),
        (APP, f"role_id = {role_ids[0]}", [app_ids[0]]),
        (APP, "role_id is null", [app_ids[1]]),
        (APP, "name='zzz'", []),
        (LIMIT, "rate >= 50", [limit_ids[0]]),
        (LIMIT, "(rate < 50) and (is_active = 1)", [limit_ids[1]]),
        (SERVICE, "name='zzz'", []),
        (SERVICE, f"name = '{service.name}'", [service.pk]),
        (SERVICE, "(type = 'pgsql') and (is_active = true)", [service.pk]),
    ]
    for path, flt, expected in cases:
        status, body = api.get(path, filter=flt)
        assert status == 200, (path, flt, body)
        assert ids_of(body) == expected, (path, flt)


def test_filter_params_and_body_options_of_a_tunnelled_read(api: Api) -> None:
    role_ids = roles(api)
    status, body = api.post(
        ROLE,
        {"filter": "name = :n", "params": {":n": "beta"}, "fields": "id,name"},
        headers=GET,
    )
    assert (status, body) == (200, {"resource": [{"id": role_ids[2], "name": "beta"}]})


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("shoe_size = 4", "Invalid or unparsable field in filter request: 'shoe_size'"),
        ("password = 'x'", "Invalid or unparsable field in filter request: 'password'"),
        ("name = ", "Invalid or unparsable filter request."),
        ("(name = 'a'", "Invalid or unparsable filter request."),
        ("name in 'a'", "Filter value lists must be wrapped in parentheses."),
        ("id = abc", "Field 'id' must be a valid integer."),
        ("is_active = maybe", "Field 'is_active' must be a valid boolean."),
        ("created_date > 'yesterday'", "Field 'created_date': "),
    ],
)
def test_bad_filters_are_400(api: Api, flt: str, message: str) -> None:
    users(api)
    status, body = api.get(USER, filter=flt)
    assert_error(status, body, 400, message, prefix=True)


# --- 2. fields on DELETE --------------------------------------------------------------------


def test_delete_answers_the_requested_fields_read_before_deleting(api: Api) -> None:
    ids = roles(api)
    status, body = api.delete(f"{ROLE}/{ids[0]}", fields="name,description")
    assert (status, body) == (200, {"name": "gamma", "description": "third"})
    status, body = api.delete(ROLE, ids=f"{ids[2]},{ids[1]}", fields="id,name")
    assert status == 200
    assert body == {"resource": [{"id": ids[2], "name": "beta"}, {"id": ids[1], "name": "alpha"}]}
    _, body = api.get(ROLE)
    assert body == {"resource": []}
    uid = users(api)[0]
    status, body = api.delete(f"{USER}/{uid}")
    assert (status, body) == (200, {"id": uid})


def test_delete_by_records_and_by_filter(api: Api) -> None:
    ids = roles(api)
    status, body = api.delete(ROLE, [{"id": ids[1]}], fields="name")
    assert (status, body) == (200, {"resource": [{"name": "alpha"}]})
    status, body = api.delete(ROLE, filter="name like '%a'", fields="name")
    assert (status, body) == (200, {"resource": [{"name": "gamma"}, {"name": "beta"}]})
    status, body = api.delete(ROLE, filter="name = 'nobody'")
    assert (status, body) == (200, {"resource": []})
    status, body = api.delete(ROLE)
    assert_error(status, body, 400, "No filter or records given for delete request.")


def test_delete_by_ids_names_an_unknown_id_and_keeps_request_order(api: Api) -> None:
    ids = roles(api)
    missing = max(ids) + 100
    status, body = api.delete(ROLE, ids=f"{ids[2]},{missing},{ids[0]}")
    error = assert_error(status, body, 400, DELETE_BATCH)
    assert error["code"] == 1000
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][0] == {"id": ids[2]}
    inner = error["context"]["resource"][1]
    assert inner["status_code"] == 404
    assert inner["message"] == f"Record with identifier '{missing}' not found."
    assert len(error["context"]["resource"]) == 2  # stopped there
    _, body = api.get(ROLE)
    assert ids_of(body) == [ids[0], ids[1]]  # the first delete stayed, the third never ran


# --- 3. writes by ids or filter -------------------------------------------------------------


def test_patch_by_ids_applies_one_record_to_each_in_request_order(api: Api) -> None:
    ids = users(api)
    listed = f"{ids[2]},{ids[0]}"
    status, body = api.patch(USER, [{"last_name": "Same"}], ids=listed)
    assert (status, body) == (200, {"resource": [{"id": ids[2]}, {"id": ids[0]}]})
    status, body = api.put(USER, {"resource": [{"is_active": False}]}, ids=listed, fields="*")
    assert status == 200
    assert [(r["id"], r["last_name"], r["is_active"]) for r in body["resource"]] == [
        (ids[2], "Same", False),
        (ids[0], "Same", False),
    ]
    _, body = api.get(USER, filter="last_name = 'Same'")
    assert ids_of(body) == [ids[0], ids[2]]
    status, body = api.patch(USER, {"last_name": "Bare"}, ids=listed)
    assert_error(status, body, 400, "No record(s) detected in request.", prefix=True)


def test_patch_by_filter_on_services_and_roles(api: Api, service: Any) -> None:
    ids = roles(api)
    status, body = api.patch(ROLE, [{"description": "changed"}], filter="is_active = true")
    assert (status, body) == (200, {"resource": [{"id": ids[0]}, {"id": ids[2]}]})
    _, body = api.get(ROLE, filter="description = 'changed'")
    assert names(body) == ["gamma", "beta"]
    status, body = api.patch(SERVICE, [{"label": "Shop!"}], filter=f"name = '{service.name}'")
    assert (status, body) == (200, {"resource": [{"id": service.pk}]})
    _, body = api.get(f"{SERVICE}/{service.pk}", fields="label")
    assert body == {"label": "Shop!"}
    status, body = api.patch(ROLE, [{"description": "x"}], filter="name = 'nobody'")
    assert (status, body) == (200, {"resource": []})


def test_patch_by_ids_with_an_unknown_id_names_it(api: Api) -> None:
    ids = roles(api)
    missing = max(ids) + 50
    status, body = api.patch(ROLE, [{"description": "new"}], ids=f"{ids[1]},{missing}")
    error = assert_error(status, body, 400, UPDATE_BATCH)
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][1]["message"] == (
        f"Record with identifier '{missing}' not found."
    )
    assert error["context"]["written"] == [0]
    _, body = api.get(f"{ROLE}/{ids[1]}")
    assert body["description"] == "new"


# --- 4. verb tunnelling ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "make"),
    [(ROLE, roles), (USER, users)],
)
def test_post_with_x_http_method_get_reads(api: Api, path: str, make: Any) -> None:
    ids = make(api)
    before = ids_of(api.get(path)[1])
    for body in (
        {"ids": [ids[2], ids[0]]},
        {"resource": [{"id": ids[2]}, {"id": ids[0]}]},
        [{"id": ids[0]}, {"id": ids[2]}],
        [ids[2], ids[0]],
        {"filter": f"id in ({ids[0]},{ids[2]})"},
    ):
        status, answer = api.post(path, body, headers=GET)
        assert status == 200, (body, answer)
        assert ids_of(answer) == [ids[0], ids[2]]
    status, answer = api.post(path, {"ids": [ids[1]]}, headers={"X-Method-Override": "get"})
    assert (status, ids_of(answer)) == (200, [ids[1]])
    status, answer = api.post(f"{path}?method=GET", {"ids": [ids[1]]})
    assert (status, ids_of(answer)) == (200, [ids[1]])
    assert ids_of(api.get(path)[1]) == before  # nothing was created


def test_tunnelled_get_on_services_apps_and_limits(api: Api, service: Any) -> None:
    app_ids = create(api, APP, {"name": "one"}, {"name": "two"})
    limit_ids = create(api, LIMIT, {"name": "l", "type": "instance", "rate": 3, "period": "day"})
    for path, wanted in ((SERVICE, [service.pk]), (APP, app_ids[1:]), (LIMIT, limit_ids)):
        status, body = api.post(path, {"ids": wanted}, headers=GET)
        assert (status, ids_of(body)) == (200, wanted), body
    status, body = api.post(f"{SERVICE}/{service.pk}", None, headers=GET, fields="name")
    assert (status, body) == (200, {"name": service.name})


def test_tunnelled_patch_and_delete(api: Api) -> None:
    ids = roles(api)
    status, body = api.post(
        ROLE, [{"description": "via post"}], headers={"X-HTTP-Method": "PATCH"}, ids=ids[1]
    )
    assert (status, body) == (200, {"resource": [{"id": ids[1]}]})
    assert api.get(f"{ROLE}/{ids[1]}")[1]["description"] == "via post"
    status, body = api.post(ROLE, {"ids": [ids[2], ids[0]]}, headers={"X-HTTP-Method": "DELETE"})
    assert (status, body) == (200, {"resource": [{"id": ids[2]}, {"id": ids[0]}]})
    assert ids_of(api.get(ROLE)[1]) == [ids[1]]
    status, body = api.post(ROLE, [{"name": "x"}], headers={"X-HTTP-Method": "FETCH"})
    assert_error(status, body, 400, "Unsupported method override 'FETCH'.")


# --- 5. batches -----------------------------------------------------------------------------


BATCH = [{"name": "first"}, {"name": "first"}, {"name": "third"}]  # the 2nd is a duplicate


def test_batch_stops_at_the_first_failure_and_keeps_what_it_wrote(api: Api) -> None:
    status, body = api.post(ROLE, BATCH, fields="name")
    error = assert_error(status, body, 400, CREATE_BATCH)
    assert error["code"] == 1000
    context = error["context"]
    assert context["error"] == [1] and context["written"] == [0]
    assert context["resource"][0] == {"name": "first"}
    assert context["resource"][1]["status_code"] == 400
    assert "name" in context["resource"][1]["message"]
    assert len(context["resource"]) == 2
    assert names(api.get(ROLE)[1]) == ["first"]


def test_batch_continue_writes_the_valid_records_and_reports_the_bad(api: Api) -> None:
    status, body = api.post(ROLE, BATCH, fields="name", **{"continue": "true"})
    error = assert_error(status, body, 400, CREATE_BATCH)
    context = error["context"]
    assert context["error"] == [1] and context["written"] == [0, 2]
    assert context["resource"][0] == {"name": "first"}
    assert context["resource"][2] == {"name": "third"}
    assert names(api.get(ROLE)[1]) == ["first", "third"]


def test_batch_rollback_writes_nothing(api: Api) -> None:
    status, body = api.post(ROLE, BATCH, rollback="true")
    error = assert_error(status, body, 400, CREATE_BATCH + " All changes rolled back.")
    assert error["context"]["error"] == [1] and error["context"]["written"] == []
    assert api.get(ROLE)[1] == {"resource": []}


def test_continue_and_rollback_together_are_400(api: Api) -> None:
    status, body = api.post(ROLE, BATCH, rollback="true", **{"continue": "1"})
    assert_error(
        status, body, 400, "Rollback and continue operations can not be requested at the same time."
    )
    assert api.get(ROLE)[1] == {"resource": []}


def test_batch_update_and_user_batches_with_passwords(api: Api) -> None:
    ids = roles(api)
    status, body = api.patch(
        ROLE, [{"id": ids[0], "description": "ok"}, {"description": "no id"}], fields="description"
    )
    error = assert_error(status, body, 400, UPDATE_BATCH)
    assert error["context"]["resource"][0] == {"description": "ok"}
    assert error["context"]["resource"][1]["message"] == (
        "Required id field(s) not found in record 1: id."
    )
    assert api.get(f"{ROLE}/{ids[0]}")[1]["description"] == "ok"
    records = [
        {"email": "ann@example.com", "password": "a-long-enough-password-1"},
        {"email": "bad@example.com", "password": "short"},
        {"email": "cid@example.com", "password": "a-long-enough-password-3"},
    ]
    status, body = api.post(USER, records, fields="email", **{"continue": "true"})
    error = assert_error(status, body, 400, CREATE_BATCH)
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][1]["message"].startswith("Password not accepted:")
    assert names(api.get(USER)[1], "email") == ["ann@example.com", "cid@example.com"]


def test_a_read_by_ids_naming_a_missing_record_is_a_batch_error(api: Api) -> None:
    first, second, _ = roles(api)
    missing = second + 1000
    status, body = api.get(ROLE, ids=f"{first},{missing},{second}")
    inner = assert_batch_error(
        status, body, 1, f"Record with identifier '{missing}' not found.", expected=404
    )
    assert inner["status_code"] == 404
    error = body["error"]
    assert error["message"] == "Batch Error: Not all requested records could be retrieved."
    assert error["context"]["resource"][0]["name"] == "gamma"
    assert len(error["context"]["resource"]) == 2  # it stopped at the missing one

    status, body = api.get(
        ROLE, ids=f"{first},{missing},{second}", fields="name", **{"continue": "true"}
    )
    assert_batch_error(
        status, body, 1, f"Record with identifier '{missing}' not found.", expected=404
    )
    assert [r.get("name") for r in body["error"]["context"]["resource"]] == ["gamma", None, "alpha"]


def test_a_constraint_the_checks_missed_is_the_records_400_not_a_500(api: Api) -> None:
    """A unique constraint enforced only by the database (as when two requests write the same
    name at the same moment): the second record fails with a 400, the first stays written."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE UNIQUE INDEX test_role_description ON rbac_role (description)")
    try:
        status, body = api.post(
            ROLE, [{"name": "one", "description": "same"}, {"name": "two", "description": "same"}]
        )
        inner = assert_batch_error(
            status, body, 1, "The record conflicts with another one", prefix=True
        )
        assert inner["code"] != 1000
        assert body["error"]["context"]["written"] == [0]
        assert names(api.get(ROLE, fields="name")[1]) == ["one"]

        status, body = api.patch(
            f"{ROLE}/{create(api, ROLE, {'name': 'three'})[0]}", {"description": "same"}
        )
        assert_error(status, body, 400, "The record conflicts with another one", prefix=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX test_role_description")
