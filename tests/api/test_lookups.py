"""Lookups (spec §7.6, §9.2): global `system/lookup` records, the related lists of roles,
users and apps, and `{name}` substitution in role row filters and service configuration.

Effects are checked where a caller notices them: which customers a role's row filter lets
through, and whether a service whose settings name a lookup can connect.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.verbs import GET
from services.models import Service
from tests.conftest import (
    Api,
    assert_error,
    assign_role,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
    service_kwargs,
)

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v2/system/lookup"
ROLE = "/api/v2/system/role"
USER = "/api/v2/system/user"
APP = "/api/v2/system/app"
CUSTOMERS = "/api/v2/shop/_table/customers"
MASK = "**********"
PASSWORD = "user-password-123"


def _names(client: Api) -> list[str]:
    status, body = client.get(CUSTOMERS, fields="name", order="id")
    assert status == 200, body
    return [r["name"] for r in body["resource"]]


# --- system/lookup -------------------------------------------------------------------------


def test_system_lookups_are_created_read_changed_and_deleted(api: Api) -> None:
    status, body = api.post(
        LOOKUP,
        [
            {"name": "region", "value": "US", "description": "home market"},
            {"name": "db_password", "value": "s3cret", "private": True},
        ],
    )
    assert status == 201, body
    region_id, secret_id = (r["id"] for r in body["resource"])
    assert body == {"resource": [{"id": region_id}, {"id": secret_id}]}

    status, body = api.get(LOOKUP)
    assert status == 200
    records = {r["name"]: r for r in body["resource"]}
    assert records["region"] == {
        **records["region"],
        "id": region_id,
        "value": "US",
        "private": False,
        "description": "home market",
    }
    assert records["db_password"]["value"] == MASK  # a private value is never shown
    status, body = api.get(f"{LOOKUP}/{region_id}", fields="name,value")
    assert (status, body) == (200, {"name": "region", "value": "US"})

    status, body = api.patch(f"{LOOKUP}/{region_id}", {"value": "DE"}, fields="*")
    assert status == 200 and body["value"] == "DE" and body["name"] == "region"
    status, body = api.patch(f"{LOOKUP}/{secret_id}", {"value": MASK, "description": "pg"})
    assert status == 200  # the mask sent back keeps the stored secret
    from lookups.models import Lookup

    assert Lookup.objects.get(pk=secret_id).value == "s3cret"

    status, body = api.delete(f"{LOOKUP}/{region_id}")
    assert (status, body) == (200, {"id": region_id})
    status, body = api.get(f"{LOOKUP}/{region_id}")
    assert_error(status, body, 404, f"Record with identifier '{region_id}' not found.")


def _failure(status: int, body: Any) -> str:
    """The message of the one failed record of a batch (spec §3.8 batch error)."""
    assert_error(status, body, 400, "Batch Error", prefix=True)
    context = body["error"]["context"]
    assert context["error"] == [0] and context["written"] == []
    return str(context["resource"][0]["message"])


def test_bad_lookups_answer_400_and_write_nothing(api: Api) -> None:
    status, _ = api.post(LOOKUP, [{"name": "region", "value": "US"}])
    assert status == 201
    status, body = api.post(LOOKUP, [{"name": "region", "value": "DE"}])
    assert _failure(status, body) == "A lookup named 'region' already exists here."
    for bad in ({"value": "x"}, {"name": "has space"}, {"name": "9lives"}, {"name": "a.b"}):
        status, body = api.post(LOOKUP, [bad])
        assert _failure(status, body).startswith("A lookup needs a 'name'")
    status, body = api.post(LOOKUP, [{"name": "flag", "private": "yes"}])
    assert _failure(status, body) == "'private' must be true or false."
    status, body = api.get(LOOKUP, fields="name")
    assert body == {"resource": [{"name": "region"}]}


def test_owned_lookups_are_not_system_lookups(api: Api) -> None:
    role = make_role("reader", [])
    status, body = api.patch(f"{ROLE}/{role.pk}", {"lookup_by_role_id": [{"name": "region"}]})
    assert status == 200, body
    status, body = api.get(LOOKUP)
    assert body == {"resource": []}
    status, body = api.post(LOOKUP, [{"name": "region", "value": "US"}])  # no clash
    assert status == 201, body


# --- related lists on role, user and app ---------------------------------------------------


@pytest.fixture
def owners(service: Any) -> dict[str, tuple[str, str, str]]:
    """Owner kind -> (record path, related list, foreign key)."""
    role = make_role("reader", [])
    app, _key = make_app("shop app", role)
    user = make_user("jane@example.com")
    return {
        "role": (f"{ROLE}/{role.pk}", "lookup_by_role_id", "role_id"),
        "user": (f"{USER}/{user.pk}", "lookup_by_user_id", "user_id"),
        "app": (f"{APP}/{app.pk}", "lookup_by_app_id", "app_id"),
    }


@pytest.mark.parametrize("kind", ["role", "user", "app"])
def test_related_lookups_are_added_changed_and_removed(
    api: Api, owners: dict[str, tuple[str, str, str]], kind: str
) -> None:
    path, key, fk = owners[kind]
    owner_id = int(path.rsplit("/", 1)[1])
    items = [{"name": "region", "value": "US"}, {"name": "token", "value": "t", "private": True}]
    status, body = api.patch(path, {key: items}, related=key)
    assert status == 200, body
    region, token = body[key]
    assert region == {
        "id": region["id"],
        fk: owner_id,
        "name": "region",
        "value": "US",
        "private": False,
        "description": "",
    }
    assert token["value"] == MASK

    change = [{"id": region["id"], "value": "DE"}, {"id": token["id"], fk: None}]
    status, body = api.patch(path, {key: change}, related=key)
    assert status == 200, body
    assert [(r["name"], r["value"]) for r in body[key]] == [("region", "DE")]

    status, body = api.get(path, related=key)
    assert [r["name"] for r in body[key]] == ["region"]
    status, body = api.get(path)
    assert key not in body

    status, body = api.patch(path, {key: [{"name": "region"}]})
    assert_error(status, body, 400, f"{key}[0]: A lookup named 'region' already exists here.")
    status, body = api.patch(path, {key: [{"id": 999999, "value": "x"}]})
    assert_error(status, body, 400, f"{key}[0]: Lookup 999999 does not belong to this record.")


def test_a_role_is_created_with_its_lookups(api: Api) -> None:
    record = {"name": "west", "lookup_by_role_id": [{"name": "region", "value": "US"}]}
    status, body = api.post(ROLE, [record], related="lookup_by_role_id")
    assert status == 201, body
    created = body["resource"][0]
    assert [(r["name"], r["value"]) for r in created["lookup_by_role_id"]] == [("region", "US")]


# --- substitution in row filters -----------------------------------------------------------


@pytest.fixture
def regional(service: Any) -> dict[str, Any]:
    """A role that reads customers of `{region}` only, an app whose default role it is, and a
    user of that app."""
    role = make_role(
        "regional",
        [
            {
                "service": service,
                "component": "_table/customers/*",
                "verb_mask": GET,
                "filters": [{"name": "country", "operator": "=", "value": "{region}"}],
            }
        ],
    )
    app, key = make_app("regional app", role)
    user = make_user("jane@example.com", PASSWORD)
    assign_role(user, app, role)
    return {"role": role, "app": app, "key": key, "user": user}


def test_a_role_lookup_chooses_the_rows_and_a_user_lookup_overrides_it(
    api: Api, regional: dict[str, Any]
) -> None:
    role, app, user, key = regional["role"], regional["app"], regional["user"], regional["key"]
    app_only = client_for(key)
    assert _names(app_only) == []  # `{region}` unknown: stays as written, matches nothing

    status, _ = api.post(LOOKUP, [{"name": "region", "value": "DE"}])
    assert status == 201
    assert _names(app_only) == ["Globex"]  # system-wide

    status, _ = api.patch(f"{APP}/{app.pk}", {"lookup_by_app_id": [{"name": "region"}]})
    assert status == 200
    status, body = api.patch(
        f"{APP}/{app.pk}", {"lookup_by_app_id": [{"name": "region", "value": "XX"}]}
    )
    assert_error(status, body, 400, "lookup_by_app_id[0]: A lookup named", prefix=True)

    status, _ = api.patch(
        f"{ROLE}/{role.pk}", {"lookup_by_role_id": [{"name": "region", "value": "US"}]}
    )
    assert status == 200
    assert _names(app_only) == ["Acme", "Initech"]  # the role's beats the app's and system's

    status, _ = api.patch(
        f"{USER}/{user.pk}", {"lookup_by_user_id": [{"name": "region", "value": "'DE'"}]}
    )
    assert status == 200
    as_user = client_for(key, login("jane@example.com", PASSWORD, key))
    assert _names(as_user) == ["Globex"]  # the user's beats the role's (DF-style quotes ok)
    assert _names(app_only) == ["Acme", "Initech"]  # no user: the role's still applies


def test_an_app_lookup_beats_a_system_lookup(api: Api, regional: dict[str, Any]) -> None:
    app = regional["app"]
    api.post(LOOKUP, [{"name": "region", "value": "DE"}])
    status, _ = api.patch(
        f"{APP}/{app.pk}", {"lookup_by_app_id": [{"name": "region", "value": "US"}]}
    )
    assert status == 200
    assert _names(client_for(regional["key"])) == ["Acme", "Initech"]


def test_private_lookups_never_reach_row_filters(api: Api, regional: dict[str, Any]) -> None:
    api.post(LOOKUP, [{"name": "region", "value": "US", "private": True}])
    assert _names(client_for(regional["key"])) == []


# --- substitution in service configuration -------------------------------------------------


def test_a_private_lookup_in_the_service_config_lets_it_connect(
    api: Api, seeded: dict[str, Any]
) -> None:
    real = service_kwargs(seeded)
    Service.objects.create(
        **service_kwargs(seeded, name="vault", username="{db_user}", password="{db_password}")
    )
    status, body = api.get("/api/v2/vault/_table/todo", limit=1)
    assert status >= 400, body  # connects as the role "{db_user}", which does not exist

    status, _ = api.post(
        LOOKUP,
        [
            {"name": "db_user", "value": real["username"], "private": True},
            {"name": "db_password", "value": real["password"], "private": True},
        ],
    )
    assert status == 201
    status, body = api.get("/api/v2/vault/_table/todo", limit=1)
    assert status == 200, body
    assert body["resource"][0]["name"] == "test1"

    status, body = api.get("/api/v2/system/lookup")
    assert {r["value"] for r in body["resource"]} == {MASK}  # the secret stays hidden


# --- substitution in what clients send -----------------------------------------------------


def test_lookups_fill_client_filters_records_and_routine_params(api: Api, pg: Any) -> None:
    status, _ = api.post(
        LOOKUP,
        [
            {"name": "region", "value": "DE"},
            {"name": "secret", "value": "US", "private": True},
        ],
    )
    assert status == 201
    status, body = api.get(CUSTOMERS, fields="name", filter="country = '{region}'")
    assert (status, body) == (200, {"resource": [{"name": "Globex"}]})
    status, body = api.get(CUSTOMERS, fields="name", filter="(country = '{region}') OR (id = 3)")
    assert [r["name"] for r in body["resource"]] == ["Globex", "Initech"]
    status, body = api.get(CUSTOMERS, fields="name", filter="country = '{secret}'")
    assert (status, body) == (200, {"resource": []})  # private: never in client values

    status, body = api.post("/api/v2/shop/_table/todo", [{"name": "call {region} {nobody}"}])
    assert status == 200, body
    stored = pg.execute("SELECT name FROM todo ORDER BY id DESC LIMIT 1").fetchone()
    assert stored == ("call DE {nobody}",)  # unknown tokens stay as written

    status, body = api.get("/api/v2/shop/_func/echo_text", p_value="{region}")
    assert (status, body) == (200, "DE")
    status, body = api.post("/api/v2/shop/_func/echo_text", {"params": {"p_value": "{region}!"}})
    assert (status, body) == (200, "DE!")


def test_user_lookups_fill_a_users_own_filter(api: Api, regional: dict[str, Any]) -> None:
    role, key = regional["role"], regional["key"]
    status, _ = api.patch(
        f"{ROLE}/{role.pk}", {"lookup_by_role_id": [{"name": "region", "value": "US"}]}
    )
    assert status == 200
    as_user = client_for(key, login("jane@example.com", PASSWORD, key))
    status, body = as_user.get(CUSTOMERS, fields="email", filter="email = '{user.email}'")
    assert (status, body) == (200, {"resource": []})  # jane is no customer of region US
    status, body = as_user.get(CUSTOMERS, fields="name", filter="name != '{user.first_name}x'")
    assert status == 200 and [r["name"] for r in body["resource"]] == ["Acme", "Initech"]


def test_modifiers_apply_to_lookup_values(api: Api, service: Any, pg: Any) -> None:
    role = make_role(
        "upper",
        [
            {
                "service": service,
                "component": "_table/customers/*",
                "verb_mask": GET,
                "filters": [
                    {"name": "country", "operator": "=", "value": "'{strtoupper(region)}'"}
                ],
            }
        ],
    )
    _app, key = make_app("upper app", role)
    status, _ = api.post(LOOKUP, [{"name": "region", "value": " de "}])
    assert status == 201
    assert _names(client_for(key)) == []  # " DE " is no country
    status, _ = api.patch(f"{LOOKUP}/{_lookup_id('region')}", {"value": "de"})
    assert status == 200
    assert _names(client_for(key)) == ["Globex"]

    text = "{ucfirst(region)}|{base64_encode(region)}|{urlencode(nobody)}|{nosuch(region)}"
    status, body = api.post("/api/v2/shop/_table/todo", [{"name": text}])
    assert status == 200, body
    stored = pg.execute("SELECT name FROM todo ORDER BY id DESC LIMIT 1").fetchone()
    assert stored == ("De|ZGU=|{urlencode(nobody)}|{nosuch(region)}",)


def _lookup_id(name: str) -> int:
    from lookups.models import Lookup

    return int(Lookup.objects.get(name=name, role=None, user=None, app=None).pk)


def test_the_admin_console_adds_lookups_and_masks_private_values(admin_user: Any) -> None:
    from django.test import Client

    from lookups.models import Lookup

    browser = Client()
    browser.force_login(admin_user)
    response = browser.post(
        "/admin/lookups/lookup/add/",
        {"name": "db_password", "value": "s3cret-value", "private": "on", "description": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    assert Lookup.objects.get().value == "s3cret-value"
    page = browser.get("/admin/lookups/lookup/").content.decode()
    assert "db_password" in page and MASK in page and "s3cret-value" not in page
    response = browser.post("/admin/lookups/lookup/add/", {"name": "db_password", "value": "again"})
    assert response.status_code == 200  # the form answers the duplicate, nothing is saved
    assert Lookup.objects.count() == 1


def test_built_in_tokens_fill_routine_params(api: Api, admin_token: str) -> None:
    status, body = api.get("/api/v2/shop/_func/echo_text", p_value="{user.email}")
    assert (status, body) == (200, "admin@example.com")
    status, body = api.get("/api/v2/shop/_func/echo_text", p_value="{session.token}")
    assert (status, body) == (200, admin_token)
    status, body = api.get("/api/v2/shop/_func/echo_text", p_value="{strtoupper(user.name)}")
    assert (status, body) == (200, "ADMIN")
