"""The system service's discovery (`GET /api/v2/system`, `system/service_type`) and service
records written in DreamFactory's nested shape and in the flat one (spec §2.2, §9.2, §9.3)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import Api, assert_error, service_kwargs

pytestmark = pytest.mark.django_db

S = "/api/v2/system/service"
CONNECTION = ("host", "port", "database", "username", "password", "schema", "sslmode")

TYPES = [
    "pgsql",
    "ldap",
    "adldap",
    "oidc",
    "saml",
]  # the database type, then the sign-in providers (issue #15)


@pytest.fixture
def admin(admin_token: str, seeded: dict[str, Any]) -> Api:
    return Api(Client(), {"X-DreamFactory-Session-Token": admin_token})


def df_record(db: dict[str, Any], name: str = "sales", **overrides: Any) -> dict[str, Any]:
    """A service as DreamFactory's admin sends it: unset settings are null, extras ride along."""
    kw = service_kwargs(db)
    config: dict[str, Any] = {k: kw[k] for k in CONNECTION}
    config.update(
        charset=None,
        timezone=None,
        application_name=None,
        options=None,
        attributes=None,
        statements=None,
        max_records=None,
        allow_upsert=False,
        cache_enabled=False,
        cache_ttl=0,
    )
    record: dict[str, Any] = {
        "id": None,
        "name": name,
        "label": None,
        "description": None,
        "is_active": True,
        "type": "pgsql",
        "config": config,
        "service_doc_by_service_id": [],
    }
    record.update(overrides)
    return record


def flat_record(db: dict[str, Any], name: str = "flat") -> dict[str, Any]:
    kw = service_kwargs(db)
    return {"name": name, "label": "Flat", **{k: kw[k] for k in CONNECTION}}


def message(body: Any) -> str:
    """The error message, or a batch error's first failed record's (spec §3.8)."""
    error = body["error"]
    context = error.get("context")
    if isinstance(context, dict) and context.get("error"):
        failed = context["resource"][context["error"][0]]
        return str(failed.get("message") or failed.get("error", {}).get("message"))
    return str(error["message"])


# --- discovery ------------------------------------------------------------------------------


def test_system_root_lists_its_resources_in_the_service_root_shape(admin: Api) -> None:
    status, body = admin.get("/api/v2/system")
    assert status == 200
    names = [entry["name"] for entry in body["resource"]]
    assert {"service", "service_type", "role", "app", "user", "cors", "limit"} <= set(names)
    assert names == sorted(names)
    assert all(set(entry) == {"name"} for entry in body["resource"])
    status, body = admin.get("/api/v2/system/", fields="*")
    by_name = {entry["name"]: entry for entry in body["resource"]}
    assert by_name["service"] == {"name": "service", "label": "Services"}
    assert by_name["cors"]["label"] == "CORS"
    status, body = admin.get("/api/v2/system", as_list="true")
    assert status == 200 and body["resource"] == names


def test_system_root_is_for_admins(anon: Api, seeded: dict[str, Any]) -> None:
    status, body = anon.get("/api/v2/system")
    assert status == 401
    assert body["error"]["message"].startswith("No session token (JWT) or API Key detected")


def test_service_types_list_and_one_type(admin: Api) -> None:
    status, body = admin.get("/api/v2/system/service_type")
    assert status == 200 and [t["name"] for t in body["resource"]] == [
        "pgsql",
        "ldap",
        "adldap",
        "oidc",
        "saml",
    ]
    status, pgsql = admin.get("/api/v2/system/service_type/pgsql")
    assert status == 200
    assert {"name", "label", "description", "group", "singleton", "config_schema"} <= set(pgsql)
    assert (pgsql["label"], pgsql["group"], pgsql["singleton"]) == ("PostgreSQL", "Database", False)
    schema = {field["name"]: field for field in pgsql["config_schema"]}
    assert schema["host"]["required"] is True and schema["database"]["required"] is True
    assert schema["port"] == {**schema["port"], "type": "integer", "default": 5432}
    assert schema["password"]["type"] == "password"
    assert "require" in [v["name"] for v in schema["sslmode"]["values"]]
    assert admin.get("/api/v2/system/service_type", as_list="true")[1] == {"resource": TYPES}
    assert admin.get("/api/v2/system/service_type", group="Database")[1]["resource"] == [pgsql]
    assert admin.get("/api/v2/system/service_type", group="File")[1] == {"resource": []}
    status, body = admin.get("/api/v2/system/service_type/pgsql", fields="name,label")
    assert body == {"name": "pgsql", "label": "PostgreSQL"}


def test_an_unknown_service_type_is_404_naming_the_supported_ones(admin: Api) -> None:
    status, body = admin.get("/api/v2/system/service_type/mysql")
    assert_error(
        status,
        body,
        404,
        "Service type 'mysql' not found; supported types: pgsql, ldap, adldap, oidc, saml.",
    )


def test_the_directory_filters_by_group_type_and_fields(api: Api) -> None:
    status, body = api.get("/api/v2")
    assert status == 200
    assert [t["name"] for t in body["service_types"]] == TYPES  # the sign-in providers' too
    status, body = api.get("/api/v2", group="Database")
    assert body["service_types"] == [
        {
            "name": "pgsql",
            "label": "PostgreSQL",
            "group": "Database",
            "description": "Database service supporting PostgreSQL connections.",
        }
    ]
    assert [s["name"] for s in body["services"]] == ["shop"]
    assert set(body["services"][0]) == {"id", "name", "label", "description", "type", "spec_url"}
    body = api.get("/api/v2", fields="name,type")[1]
    assert body["services"] == [{"name": "shop", "type": "pgsql"}]
    assert api.get("/api/v2", group="database")[1]["services"][0]["name"] == "shop"
    assert api.get("/api/v2", group="File")[1] == {"services": [], "service_types": []}
    assert api.get("/api/v2", type="mysql")[1] == {"services": [], "service_types": []}


# --- service records in DF's shape ------------------------------------------------------------


def test_a_dreamfactory_shaped_service_is_created_and_answered_in_that_shape(
    admin: Api, seeded: dict[str, Any]
) -> None:
    status, body = admin.post(S, {"resource": [df_record(seeded)]})
    assert status == 201, body
    sid = body["resource"][0]["id"]
    assert body == {"resource": [{"id": sid}]}
    status, record = admin.get(f"{S}/{sid}")
    assert status == 200
    # DF's defaults: label is the name; null settings take their defaults
    assert record["label"] == "sales" and record["type"] == "pgsql"
    assert (record["mutable"], record["deletable"], record["is_active"]) == (True, True, True)
    config = record["config"]
    assert config["database"] == seeded["dbname"] and config["max_records"] == 1000
    assert config["application_name"] == "pg-gateway" and config["charset"] == "utf8"
    assert "name" not in config and "host" not in record
    # the password is masked (or null when none is stored), never the value
    assert config["password"] in ("**********", None)
    # and the service serves at once
    status, rows = admin.get("/api/v2/sales/_table/todo", fields="id", limit=2)
    assert status == 200 and len(rows["resource"]) == 2


def test_the_flat_shape_still_works_and_answers_in_dfs_shape(
    admin: Api, seeded: dict[str, Any]
) -> None:
    status, body = admin.post(S, [flat_record(seeded)], fields="*")
    assert status == 201, body
    record = body["resource"][0]
    assert record["name"] == "flat" and record["label"] == "Flat"
    assert record["config"]["database"] == seeded["dbname"] and "database" not in record
    assert admin.get("/api/v2/flat/_table/todo", limit=1)[0] == 200


def test_patch_by_id_batch_and_put_take_both_shapes(admin: Api, seeded: dict[str, Any]) -> None:
    _, body = admin.post(S, [df_record(seeded, "one"), df_record(seeded, "two")])
    one, two = (r["id"] for r in body["resource"])
    # by id: DF's nested config, then the flat shape
    assert admin.patch(f"{S}/{one}", {"config": {"max_records": 7}}) == (200, {"id": one})
    assert admin.patch(f"{S}/{one}", {"max_records": 8, "label": "One"}) == (200, {"id": one})
    record = admin.get(f"{S}/{one}")[1]
    assert record["config"]["max_records"] == 8 and record["label"] == "One"
    # PUT is PATCH
    assert admin.put(f"{S}/{two}", {"type": "pgsql", "config": {"cache_ttl": 9}})[0] == 200
    assert admin.get(f"{S}/{two}")[1]["config"]["cache_ttl"] == 9
    # a batch of records carrying ids, one in each shape
    status, body = admin.patch(
        S,
        {"resource": [{"id": one, "config": {"max_records": 11}}, {"id": two, "max_records": 12}]},
    )
    assert status == 200, body
    assert body == {"resource": [{"id": one}, {"id": two}]}
    status, body = admin.get(S, fields="id,config", ids=f"{one},{two}")
    assert {r["id"]: r["config"]["max_records"] for r in body["resource"]} == {one: 11, two: 12}
    # a null label goes back to the name (DF's default)
    admin.patch(f"{S}/{one}", {"label": None})
    assert admin.get(f"{S}/{one}")[1]["label"] == "one"


def test_an_unknown_type_is_400_naming_the_supported_types(
    admin: Api, seeded: dict[str, Any]
) -> None:
    status, body = admin.post(S, [df_record(seeded, type="mysql")])
    assert status == 400
    assert (
        "Service type 'mysql' is not supported; supported types: pgsql, ldap, adldap, oidc, saml."
        in message(body)
    )
    _, body = admin.post(S, [df_record(seeded)])
    sid = body["resource"][0]["id"]
    status, body = admin.patch(f"{S}/{sid}", {"type": "sqlite"})
    assert status == 400 and "supported types: pgsql" in message(body)
    assert admin.get(f"{S}/{sid}")[1]["type"] == "pgsql"


def test_host_and_database_are_required_as_df_says(admin: Api, seeded: dict[str, Any]) -> None:
    wanted = "Database connection information must contain at least host and database name."
    record = df_record(seeded)
    del record["config"]["host"]
    status, body = admin.post(S, [record])
    assert status == 400 and wanted in message(body)
    record = df_record(seeded)
    record["config"]["database"] = ""
    status, body = admin.post(S, [record])
    assert status == 400 and wanted in message(body)
    _, body = admin.post(S, [df_record(seeded)])
    sid = body["resource"][0]["id"]
    status, body = admin.patch(f"{S}/{sid}", {"config": {"host": None}})
    assert status == 400 and wanted in message(body)


def test_connection_statements_are_refused_not_ignored(admin: Api, seeded: dict[str, Any]) -> None:
    record = df_record(seeded)
    record["config"]["statements"] = ["SET search_path TO sales"]
    status, body = admin.post(S, [record])
    assert status == 400 and "config.statements" in message(body)
    assert admin.get(S)[1] == {"resource": []}


def test_the_password_stays_write_only_in_both_shapes(admin: Api, seeded: dict[str, Any]) -> None:
    from services.models import Service

    record = df_record(seeded)
    record["config"]["password"] = "df-shape-secret-1"
    _, body = admin.post(S, [record], fields="*")
    assert body["resource"][0]["config"]["password"] == "**********"
    sid = body["resource"][0]["id"]
    # the flat shape changes it, the mask keeps it, and no answer shows it
    admin.patch(f"{S}/{sid}", {"password": "flat-shape-secret-2"})
    assert Service.objects.get(pk=sid).password == "flat-shape-secret-2"
    admin.patch(f"{S}/{sid}", {"config": {"password": "**********"}})
    assert Service.objects.get(pk=sid).password == "flat-shape-secret-2"
    for answer in (admin.get(S), admin.get(f"{S}/{sid}"), admin.get(S, fields="*")):
        assert "secret" not in str(answer[1])
