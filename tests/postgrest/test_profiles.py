"""Schema profiles through `/rest/<service>/` with the real PostgREST Python client (issue #14,
item 4): `Accept-Profile` and `Content-Profile` choose among the schemas a service exposes (a
blank `schema` setting exposes every user schema), the answer names the schema in
`Content-Profile`, and an unexposed schema is 406 PGRST106 with the list."""

from __future__ import annotations

import time
from typing import Any

import pytest
from postgrest import SyncPostgrestClient

from tests.postgrest.conftest import Rest, answers, caught_error
from tests.servers import manage

pytestmark = pytest.mark.slow

_BLANK_SCHEMA = (
    "from services.models import Service; s = Service.objects.get(name='everything'); "
    "s.schema = ''; s.save()"
)


@pytest.fixture(scope="module")
def every_schema(rest: Rest, fixture_db: dict[str, Any]) -> str:
    """A second service over the same database with a blank `schema`: every user schema."""
    config = {
        "host": fixture_db.get("host") or "127.0.0.1",
        "port": int(fixture_db.get("port") or 5432),
        "database": fixture_db["dbname"],
        "username": fixture_db.get("user") or "postgres",
        "password": fixture_db.get("password") or "",
        "schema": "public",
    }
    status, body, _ = rest.server.call(
        "POST",
        "/api/v2/system/service",
        {
            "resource": [
                {"name": "everything", "type": "pgsql", "is_active": True, "config": config}
            ]
        },
        headers={"X-DreamFactory-Session-Token": rest.admin_token},
    )
    assert status == 201, body
    # the system API asks for a schema; a blank one (every schema) is set in the metadata
    manage(rest.server.env, "shell", "-v0", "-c", _BLANK_SCHEMA)
    time.sleep(1)  # the workers poll the metadata every 0.2 s
    return f"http://127.0.0.1:{rest.server.port}/rest/everything"


def _admin(rest: Rest, base_url: str) -> SyncPostgrestClient:
    return SyncPostgrestClient(base_url, headers={"Authorization": f"Bearer {rest.admin_token}"})


def test_default_profile_reads_the_default_schema_and_says_so(
    rest: Rest, every_schema: str
) -> None:
    client = _admin(rest, every_schema)
    with answers(client) as seen:
        rows = client.from_("customers").select("name").order("id").execute().data
    assert [r["name"] for r in rows] == ["Acme", "Globex", "Initech"]
    assert seen[-1].headers["content-profile"] == "public"


def test_accept_profile_chooses_another_exposed_schema(rest: Rest, every_schema: str) -> None:
    client = _admin(rest, every_schema).schema("other")
    with answers(client) as seen:
        rows = client.from_("secret").select("value").execute().data
    assert rows == [{"value": "hidden"}]
    assert seen[-1].headers["content-profile"] == "other"
    assert seen[-1].request.headers["accept-profile"] == "other"


def test_content_profile_chooses_the_schema_of_a_function(rest: Rest, every_schema: str) -> None:
    client = _admin(rest, every_schema).schema("other")
    with answers(client) as seen:
        assert client.rpc("hidden_fn", {}).execute().data == 1
    assert seen[-1].request.headers["content-profile"] == "other"
    assert seen[-1].headers["content-profile"] == "other"


def test_a_table_of_another_profile_is_not_found_in_the_default_one(
    rest: Rest, every_schema: str
) -> None:
    error = caught_error(lambda: _admin(rest, every_schema).from_("secret").select("*").execute())
    assert error.code == "PGRST205"


def test_unexposed_schema_is_406_pgrst106_with_the_list(rest: Rest, every_schema: str) -> None:
    client = _admin(rest, every_schema).schema("nowhere")
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").select("*").execute())
    assert seen[-1].status_code == 406 and error.code == "PGRST106"
    assert "public" in str(error.hint) and "other" in str(error.hint)


def test_a_service_with_one_schema_exposes_only_it(rest: Rest) -> None:
    client = rest.client().schema("other")
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("secret").select("*").execute())
    assert seen[-1].status_code == 406 and error.code == "PGRST106"
    assert str(error.hint).endswith(": public")
    error = caught_error(lambda: client.rpc("hidden_fn", {}).execute())
    assert error.code == "PGRST106"
    default = rest.client()
    with answers(default) as seen:
        default.from_("orders").select("id").limit(1).execute()
    assert seen[-1].headers["content-profile"] == "public"


def test_the_profile_qualifies_the_name_roles_are_granted(rest: Rest) -> None:
    # the module's app reads customers and orders of `shop`: `other.customers` is not granted
    client = rest.app_client().schema("other")
    error = caught_error(lambda: client.from_("customers").select("*").execute())
    assert error.code in ("42501", "PGRST301")
