"""The stages `/rest/` shares with `/api/v2` (issue #14 item 5): rate limits, the data cache,
the audit trail, metrics, database roles and the role's row-filter lookups, seen through the
real `postgrest` client against a two-worker server of this module's own (Redis cache, an
audit store, a metrics directory) over a database of its own. Service `cshop` caches reads;
service `rshop` runs each non-admin call as the role's database role with the user's claims
(tests/fixtures/schema_rls.sql), and caches reads too (each user's their own).
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from postgrest import SyncPostgrestClient
from postgrest.types import CountMethod
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.verbs import ALL_VERBS, GET
from tests.conftest import FIXTURES, REDIS_URL, SEED_SQL, drop_redis_prefix, redis_caches
from tests.postgrest.conftest import (
    ADMIN,
    CREATE_ADMIN,
    POLL_SECONDS,
    _ok,
    answers,
    caught_error,
    settle,
)
from tests.servers import GatewayServer, granian_workers, manage

pytestmark = pytest.mark.slow

PASSWORD = "shared-stages-password-1"
EXTRAS = """
CREATE OR REPLACE FUNCTION shared_stages_whoami() RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'notes', (SELECT count(*) FROM notes),
        'user', current_user,
        'claims', nullif(current_setting('request.jwt.claims', true), '')::json)
$$;
CREATE OR REPLACE FUNCTION shared_stages_todo_count() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT count(*) FROM todo $$;
CREATE FUNCTION shared_stages_add_todo(p_name text) RETURNS bigint LANGUAGE sql VOLATILE
    AS $$ INSERT INTO todo (name) VALUES (p_name) RETURNING id $$;
CREATE TABLE payments (id serial PRIMARY KEY, method text NOT NULL);
INSERT INTO payments (method) VALUES ('card'), ('cash'), ('card');
"""


@dataclass
class World:
    server: GatewayServer
    admin_token: str
    keys: dict[str, str]  # app name -> API key
    tokens: dict[str, str]  # user -> session token
    role_ids: dict[str, int]
    audit_db: Path
    db_role: str

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.server.port}/rest/{service}"

    def admin(self, service: str) -> SyncPostgrestClient:
        return SyncPostgrestClient(
            self.url(service), headers={"Authorization": f"Bearer {self.admin_token}"}
        )

    def app(self, service: str, app: str, user: str | None = None) -> SyncPostgrestClient:
        key = self.keys[app]
        bearer = self.tokens[user] if user else key
        return SyncPostgrestClient(
            self.url(service), headers={"apikey": key, "Authorization": f"Bearer {bearer}"}
        )

    def v2(self, path: str, app: str, method: str = "GET") -> tuple[int, Any, Any]:
        return self.server.call(method, path, headers={"X-DreamFactory-Api-Key": self.keys[app]})


def within(seconds: float, check: Callable[[], Any]) -> Any:
    """The first truthy answer of `check`, polled for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture(scope="module")
def own_db(pg_server: str) -> Iterator[dict[str, Any]]:
    """A database of this module's own, with the fixture schema and seed and the functions
    above: other modules re-seed the shared one, and nothing here is theirs to see."""
    name = f"gw_shared_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(pg_server) | {"dbname": name}
    conninfo = make_conninfo("", **params)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for path in sorted(FIXTURES.glob("schema*.sql")):
            conn.execute(path.read_text())
        conn.execute(SEED_SQL)
        conn.execute(EXTRAS)
    yield {"conninfo": conninfo, **params}
    with psycopg.connect(pg_server, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, own_db: dict[str, Any], pg_server: str
) -> Iterator[World]:
    db_role = f"gw_shared_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(db_role)))
    tmp_path: Path = tmp_path_factory.mktemp("pgrst_shared")
    prefix = f"pgsh{uuid.uuid4().hex[:8]}"
    redis_caches(prefix)
    (tmp_path / "metrics").mkdir()
    env = {
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        "GATEWAY_AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "GATEWAY_AUDIT_FLUSH_SECONDS": "0.2",
        "GATEWAY_METADATA_POLL_SECONDS": str(POLL_SECONDS),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    settings = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings, "migrate", "-v0")
    manage(settings, "migrate", "-v0", "--database", "audit")
    manage(settings, "shell", "-v0", "-c", CREATE_ADMIN)
    server = GatewayServer(env, tmp_path / "gateway.log", command=granian_workers(2)).start()
    try:
        yield _provision(server, own_db, tmp_path / "audit.sqlite3", db_role)
    finally:
        server.stop()
        drop_redis_prefix(prefix)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(db_role)))


def _provision(server: GatewayServer, db: dict[str, Any], audit_db: Path, db_role: str) -> World:
    token = _ok(server.call("POST", "/api/v2/system/admin/session", ADMIN))["session_token"]
    admin = {"X-DreamFactory-Session-Token": token}

    def post(path: str, record: dict[str, Any]) -> dict[str, Any]:
        body = _ok(server.call("POST", path, {"resource": [record]}, headers=admin), 201)
        return dict(body["resource"][0])

    config = {
        "host": db.get("host") or "127.0.0.1",
        "port": int(db.get("port") or 5432),
        "database": db["dbname"],
        "username": db.get("user") or "postgres",
        "password": db.get("password") or "",
        "schema": "public",
    }
    cshop = post(
        "/api/v2/system/service",
        {
            "name": "cshop",
            "label": "Cached shop",
            "type": "pgsql",
            "is_active": True,
            "config": {**config, "cache_enabled": True, "cache_ttl": 60},
        },
    )
    rshop = post(
        "/api/v2/system/service",
        {
            "name": "rshop",
            "label": "RLS shop",
            "type": "pgsql",
            "is_active": True,
            "config": {**config, "use_db_roles": True, "cache_enabled": True, "cache_ttl": 60},
        },
    )

    def role(name: str, rules: list[dict[str, Any]], **fields: Any) -> int:
        record = {"name": name, "is_active": True, "role_service_access_by_role_id": rules}
        created = post(
            "/api/v2/system/role?related=role_service_access_by_role_id,lookup_by_role_id",
            {**record, **fields},
        )
        return int(created["id"])

    def country_reader() -> list[dict[str, Any]]:
        return [
            {
                "service_id": cshop["id"],
                "component": "_table/customers",
                "verb_mask": GET,
                "requestor_mask": 1,
                "filters": [{"name": "country", "operator": "=", "value": "{region}"}],
                "filter_op": "AND",
            }
        ]

    role_ids = {
        "us": role("us readers", country_reader(), lookup_by_role_id=[lookup("US")]),
        "de": role("de readers", country_reader(), lookup_by_role_id=[lookup("DE")]),
        "own": role(
            "own customers",
            [
                {
                    "service_id": cshop["id"],
                    "component": "_table/customers",
                    "verb_mask": GET,
                    "requestor_mask": 1,
                    "filters": [{"name": "email", "operator": "=", "value": "{user.email}"}],
                    "filter_op": "AND",
                }
            ],
        ),
        "limited": role(
            "limited",
            [
                {
                    "service_id": cshop["id"],
                    "component": "_table/todo",
                    "verb_mask": GET,
                    "requestor_mask": 1,
                }
            ],
        ),
        "unmapped": role(
            "unmapped",
            [
                {
                    "service_id": rshop["id"],
                    "component": component,
                    "verb_mask": ALL_VERBS,
                    "requestor_mask": 1,
                }
                for component in ("_table/*", "_func/*")
            ],
        ),
        "notes": role(
            "note writers",
            [
                {
                    "service_id": rshop["id"],
                    "component": component,
                    "verb_mask": ALL_VERBS,
                    "requestor_mask": 1,
                }
                for component in ("_table/*", "_func/*")
            ],
            db_role=db_role,
        ),
    }
    keys, app_ids = {}, {}
    for name in role_ids:
        app = post(
            "/api/v2/system/app?fields=*",
            {"name": f"{name} app", "is_active": True, "role_id": role_ids[name]},
        )
        keys[name], app_ids[name] = app["api_key"], app["id"]
    for email in ("acme@example.com", "globex@example.com"):
        post(
            "/api/v2/system/user?related=user_to_app_to_role_by_user_id",
            {
                "email": email,
                "name": email,
                "password": PASSWORD,
                "is_active": True,
                "user_to_app_to_role_by_user_id": [
                    {"app_id": app_ids["notes"], "role_id": role_ids["notes"]},
                    {"app_id": app_ids["own"], "role_id": role_ids["own"]},
                ],
            },
        )
    settle()
    tokens = {}
    for email in ("acme@example.com", "globex@example.com"):
        login = {"email": email, "password": PASSWORD}
        headers = {"X-DreamFactory-Api-Key": keys["notes"]}
        tokens[email] = _ok(server.call("POST", "/api/v2/user/session", login, headers=headers))[
            "session_token"
        ]
    return World(server, token, keys, tokens, role_ids, audit_db, db_role)


def lookup(value: str) -> dict[str, Any]:
    return {"name": "region", "value": value, "private": False}


# --- rate limits ----------------------------------------------------------------------------


def test_a_limit_counts_rest_and_api_v2_calls_together_and_answers_429(world: World) -> None:
    record = {"name": "three", "type": "instance.role", "role_id": world.role_ids["limited"]}
    record |= {"rate": 3, "period": "hour"}
    status, body, _ = world.server.call(
        "POST",
        "/api/v2/system/limit",
        {"resource": [record]},
        headers={"X-DreamFactory-Session-Token": world.admin_token},
    )
    assert status == 201, body
    time.sleep(1.2)  # both workers have loaded the limit
    client = world.app("cshop", "limited")
    with answers(client) as seen:
        assert len(client.from_("todo").select("id").execute().data) == 5
    assert seen[-1].headers["X-RateLimit-Limit"] == "3"
    assert seen[-1].headers["X-RateLimit-Remaining"] == "2"
    status, _, headers = world.v2("/api/v2/cshop/_table/todo", "limited")
    assert (status, headers["x-ratelimit-remaining"]) == (200, "1")
    with answers(client) as seen:
        client.from_("todo").select("id").execute()
    assert seen[-1].headers["X-RateLimit-Remaining"] == "0"

    with answers(client) as seen:
        error = caught_error(lambda: client.from_("todo").select("id").execute())
    response = seen[-1]
    assert response.status_code == 429
    assert set(response.json()) == {"code", "details", "hint", "message"}
    assert error.code == "GW429"
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert world.v2("/api/v2/cshop/_table/todo", "limited")[0] == 429  # the same count
    assert within(5, lambda: _sample(world, "gateway_limit_rejections_total", service="cshop") >= 2)


# --- the data cache -------------------------------------------------------------------------


def test_a_repeated_read_is_a_cache_hit_with_the_same_body(world: World) -> None:
    client = world.admin("cshop")
    with answers(client) as seen:
        first = client.from_("orders").select("id,total").order("id").execute().data
        second = client.from_("orders").select("id,total").order("id").execute().data
    assert [r.headers["X-Cache"] for r in seen] == ["MISS", "HIT"]
    assert second == first and seen[0].content == seen[1].content
    assert seen[1].headers["Content-Range"] == seen[0].headers["Content-Range"]


@pytest.mark.parametrize("verb", ["POST", "PATCH", "DELETE"])
def test_a_rest_write_invalidates_cached_reads_of_its_table(world: World, verb: str) -> None:
    client = world.admin("cshop")

    def names() -> tuple[str, list[str]]:
        with answers(client) as seen:
            rows: Any = client.from_("todo").select("name").order("id").execute().data
        return seen[-1].headers["X-Cache"], [r["name"] for r in rows]

    names()
    cached, before = names()
    assert cached == "HIT"
    if verb == "POST":
        client.from_("todo").insert({"name": "added"}).execute()
        expected = [*before, "added"]
    elif verb == "PATCH":
        client.from_("todo").update({"name": "renamed"}).eq("name", before[0]).execute()
        expected = ["renamed", *before[1:]]
    else:
        client.from_("todo").delete().eq("name", before[-1]).execute()
        expected = before[:-1]
    assert names() == ("MISS", expected)


def test_a_volatile_function_called_through_rpc_invalidates_cached_reads(world: World) -> None:
    """PostgREST clients write through VOLATILE functions (`POST /rpc/<fn>`): the service's
    cached reads are dropped, as after a procedure."""
    client = world.admin("cshop")

    def names() -> tuple[str, list[str]]:
        with answers(client) as seen:
            rows: Any = client.from_("todo").select("name").order("id").execute().data
        return seen[-1].headers["X-Cache"], [r["name"] for r in rows]

    names()
    cached, before = names()
    assert cached == "HIT"
    client.rpc("shared_stages_add_todo", {"p_name": "by rpc"}).execute()
    assert names() == ("MISS", [*before, "by rpc"])
    client.rpc("shared_stages_whoami", {}, get=True).execute()  # STABLE: the cache stays
    assert names()[0] == "HIT"


def test_a_cached_answer_never_reaches_a_role_with_another_row_filter(world: World) -> None:
    admin = world.admin("cshop")
    every: Any = admin.from_("customers").select("name").order("id").execute().data
    assert [r["name"] for r in every] == ["Acme", "Globex", "Initech"]
    us, de = world.app("cshop", "us"), world.app("cshop", "de")
    for client, expected in ((us, ["Acme", "Initech"]), (de, ["Globex"])):
        with answers(client) as seen:
            for _ in range(2):
                rows: Any = client.from_("customers").select("name").order("id").execute().data
                assert [r["name"] for r in rows] == expected
        assert [r.headers["X-Cache"] for r in seen] == ["MISS", "HIT"]


def test_a_rest_read_and_an_api_v2_read_never_share_a_cached_answer(world: World) -> None:
    """The same query text means different reads in the two dialects (`id=eq.1` filters
    here; /api/v2 does not read it): neither is served the other's cached answer."""
    client = world.admin("cshop")
    v2 = {"X-DreamFactory-Session-Token": world.admin_token}
    path = "/api/v2/cshop/_table/todo?select=*&id=eq.1"  # the query the client sends
    status, body, headers = world.server.call("GET", path, headers=v2)
    assert (status, headers["x-cache"]) == (200, "MISS")
    with answers(client) as seen:
        rows: Any = client.from_("todo").select("*").eq("id", 1).execute().data
    assert [r["id"] for r in rows] == [1]
    assert seen[-1].headers["X-Cache"] == "MISS"
    status, again, headers = world.server.call("GET", path, headers=v2)
    assert (headers["x-cache"], again) == ("HIT", body)
    with answers(client) as seen:
        assert client.from_("todo").select("*").eq("id", 1).execute().data == rows
    assert seen[-1].headers["X-Cache"] == "HIT"


def test_a_filter_on_a_column_named_like_an_api_v2_option_is_part_of_the_cache_key(
    world: World,
) -> None:
    """`method`, `refresh` or `_` are options /api/v2 leaves out of its cache key; on /rest/
    they can be columns, and a filter on one changes the answer."""
    client = world.admin("cshop")
    every: Any = client.from_("payments").select("id").order("id").execute().data
    assert [r["id"] for r in every] == [1, 2, 3]
    with answers(client) as seen:
        cards: Any = client.from_("payments").select("id").order("id").eq("method", "card")
        assert [r["id"] for r in cards.execute().data] == [1, 3]
    assert seen[-1].headers["X-Cache"] == "MISS"


# --- role lookups in row filters --------------------------------------------------------------


def test_the_roles_lookup_in_its_row_filter_applies_on_rest(world: World) -> None:
    us = world.app("cshop", "us")
    rows: Any = us.from_("customers").select("name,country").execute().data
    assert {r["country"] for r in rows} == {"US"}
    assert us.from_("customers").select("name").eq("name", "Globex").execute().data == []
    with answers(us) as seen:
        one = us.from_("customers").select("name").eq("name", "Acme").execute().data
    assert one == [{"name": "Acme"}] and seen[-1].status_code == 200


def test_a_users_own_lookup_in_a_row_filter_applies_on_rest(world: World) -> None:
    acme = world.app("cshop", "own", "acme@example.com")
    rows: Any = acme.from_("customers").select("name,email").execute().data
    assert rows == [{"name": "Acme", "email": "acme@example.com"}]
    anonymous_app = world.app("cshop", "own")  # the filter needs a user: 401, as on /api/v2
    with answers(anonymous_app) as seen:
        caught_error(lambda: anonymous_app.from_("customers").select("name").execute())
    assert seen[-1].status_code == 401
    assert set(seen[-1].json()) == {"code", "details", "hint", "message"}
    assert world.v2("/api/v2/cshop/_table/customers", "own")[0] == 401


# --- audit ----------------------------------------------------------------------------------


def _audited(world: World, request_id: str) -> list[sqlite3.Row]:
    with sqlite3.connect(world.audit_db) as conn:
        conn.row_factory = sqlite3.Row
        query = "SELECT * FROM audit_auditevent WHERE request_id = ?"
        return conn.execute(query, (request_id,)).fetchall()


def test_each_rest_call_leaves_one_audit_event(world: World) -> None:
    us = world.app("cshop", "us")
    with answers(us) as seen:
        us.from_("customers").select("name").execute()
        caught_error(lambda: us.from_("customers").select("nope").execute())
        caught_error(lambda: us.from_("customers").insert({"name": "x"}).execute())
    expected = [
        ("GET", "_table/customers", 200),
        ("GET", "_table/customers", 400),
        ("POST", "_table/customers", 401),  # no user: as on /api/v2
    ]
    for response, (verb, resource, status) in zip(seen, expected, strict=True):
        assert response.status_code == status
        rid = response.headers["X-Request-ID"]
        events = within(5, partial(_audited, world, rid))
        assert len(events) == 1, rid
        event = events[0]
        assert (event["service"], event["resource"], event["verb"]) == ("cshop", resource, verb)
        assert event["status"] == status
        assert (event["app_name"], event["role_name"]) == ("us app", "us readers")
        assert event["role_id"] == world.role_ids["us"] and event["user_id"] is None


def test_a_users_rest_call_is_audited_with_the_user(world: World) -> None:
    acme = world.app("rshop", "notes", "acme@example.com")
    with answers(acme) as seen:
        acme.rpc("shared_stages_whoami", {}).execute()
    rid = seen[-1].headers["X-Request-ID"]
    (event,) = within(5, lambda: _audited(world, rid))
    assert (event["service"], event["resource"], event["verb"]) == (
        "rshop",
        "_func/shared_stages_whoami",
        "POST",
    )
    assert (event["user_email"], event["status"]) == ("acme@example.com", 200)


def test_a_rest_write_is_audited_with_the_rows_it_wrote(world: World) -> None:
    admin = world.admin("cshop")
    with answers(admin) as seen:
        admin.from_("todo").insert([{"name": "audited 1"}, {"name": "audited 2"}]).execute()
    rid = seen[-1].headers["X-Request-ID"]
    (event,) = within(5, lambda: _audited(world, rid))
    assert (event["service"], event["resource"], event["verb"]) == ("cshop", "_table/todo", "POST")
    assert (event["status"], event["rows"], event["is_admin"]) == (201, 2, 1)


# --- metrics --------------------------------------------------------------------------------

REQUESTS = "gateway_requests_total"
_SAMPLE = re.compile(r"^(?P<name>\w+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$", re.M)


def _sample(world: World, name: str, **labels: str | int) -> float:
    """The value of one series on /metrics (label order aside); 0 while it is missing."""
    _, text, _ = world.server.call("GET", "/metrics")
    wanted = {f'{key}="{value}"' for key, value in labels.items()}
    return sum(
        float(m["value"])
        for m in _SAMPLE.finditer(text)
        if m["name"] == name and set(m["labels"].split(",")) == wanted
    )


def test_metrics_count_rest_requests(world: World) -> None:
    client = world.admin("cshop")
    for _ in range(3):  # one object asked for, none found: 406, an answer only this test gets
        with answers(client) as seen:
            caught_error(
                lambda: client.from_("orders").select("id").eq("id", -1).single().execute()
            )
        assert seen[-1].status_code == 406
    assert within(5, lambda: _sample(world, REQUESTS, service="cshop", verb="GET", status=406) == 3)

    def reads() -> float:
        return _sample(world, REQUESTS, service="cshop", verb="GET", status=200)

    before = reads()  # at most what the workers have counted so far
    for _ in range(3):
        client.from_("orders").select("id").execute()
    assert within(5, lambda: reads() >= before + 3)


def test_metrics_count_rest_cache_hits(world: World) -> None:
    client = world.admin("cshop")

    def hits() -> float:
        return _sample(world, "gateway_cache_total", service="cshop", result="hit")

    before = hits()
    for _ in range(3):  # a miss, then two hits
        client.from_("orders").select("id,status").order("id").execute()
    assert within(5, lambda: hits() >= before + 2)


# --- database roles ---------------------------------------------------------------------------


def test_rest_reads_run_as_the_database_role_with_the_users_claims(world: World) -> None:
    for email in ("acme@example.com", "globex@example.com"):
        client = world.app("rshop", "notes", email)
        rows = client.from_("notes").select("owner_email,body").execute().data
        assert rows == [{"owner_email": email, "body": f"{email.split('@')[0]} note"}]
    every = world.admin("rshop").from_("notes").select("id").execute().data
    assert len(every) == 2  # an admin runs as the service's own user
    acme = world.app("rshop", "notes", "acme@example.com")
    with answers(acme) as seen:  # the count runs under the policy too
        counted = acme.from_("notes").select("id", count=CountMethod.exact).execute()
    assert (counted.count, seen[-1].headers["Content-Range"]) == (1, "0-0/1")


def test_with_database_roles_each_users_cached_reads_are_their_own(world: World) -> None:
    """Acme and Globex share a role, but the policy shows each their own notes: a cached
    answer is kept per user on such a service, as on `/api/v2`."""
    for email in ("acme@example.com", "globex@example.com"):
        client = world.app("rshop", "notes", email)
        with answers(client) as seen:
            for _ in range(2):
                rows: Any = client.from_("notes").select("owner_email").eq("id", 1).execute()
                assert rows.data == ([{"owner_email": email}] if email[0] == "a" else [])
        assert [r.headers["X-Cache"] for r in seen] == ["MISS", "HIT"]


def test_a_table_the_database_role_may_not_read_is_postgrests_42501(world: World) -> None:
    acme = world.app("rshop", "notes", "acme@example.com")
    with answers(acme) as seen:
        error = caught_error(lambda: acme.from_("todo").select("id").execute())
    assert seen[-1].status_code == 403
    assert error.code == "42501"
    assert "permission denied" in str(error.message)
    with answers(acme) as seen:
        error = caught_error(lambda: acme.from_("todo").insert({"name": "no"}).execute())
    assert (seen[-1].status_code, error.code) == (403, "42501")


def test_rest_writes_are_checked_by_the_policy(world: World, own_db: dict[str, Any]) -> None:
    acme = world.app("rshop", "notes", "acme@example.com")
    made = acme.from_("notes").insert({"owner_email": "acme@example.com", "body": "mine"})
    written: Any = made.execute().data
    assert written[0]["body"] == "mine"
    with answers(acme) as seen:
        error = caught_error(
            lambda: (
                acme.from_("notes")
                .insert({"owner_email": "globex@example.com", "body": "forged"})
                .execute()
            )
        )
    assert (seen[-1].status_code, error.code) == (403, "42501")
    # Globex's note is not there for Acme: a PATCH or DELETE of it changes nothing
    assert (
        acme.from_("notes").update({"body": "taken"}).eq("body", "globex note").execute().data == []
    )
    assert acme.from_("notes").delete().eq("body", "globex note").execute().data == []
    with psycopg.connect(own_db["conninfo"], autocommit=True) as conn:
        rows = conn.execute("SELECT owner_email, body FROM notes ORDER BY id").fetchall()
    assert ("globex@example.com", "globex note") in rows
    assert ("globex@example.com", "forged") not in rows
    assert ("acme@example.com", "mine") in rows


def test_rest_rpc_runs_as_the_database_role_with_the_users_claims(world: World) -> None:
    globex = world.app("rshop", "notes", "globex@example.com")
    seen: Any = globex.rpc("shared_stages_whoami", {}).execute().data
    assert (seen["notes"], seen["user"]) == (1, world.db_role)
    claims = seen["claims"]
    assert (claims["role"], claims["role_name"]) == (world.db_role, "note writers")
    assert (claims["email"], claims["role_id"]) == ("globex@example.com", world.role_ids["notes"])
    as_admin: Any = world.admin("rshop").rpc("shared_stages_whoami", {}).execute().data
    assert as_admin["claims"] is None and as_admin["notes"] >= 2
    assert as_admin["user"] != world.db_role
    with answers(globex) as seen_answers:  # the function reads a table the role may not read
        error = caught_error(lambda: globex.rpc("shared_stages_todo_count", {}).execute())
    assert (seen_answers[-1].status_code, error.code) == (403, "42501")


def test_a_role_without_a_database_role_is_refused_on_such_a_service(world: World) -> None:
    client = world.app("rshop", "unmapped")
    for run in (
        lambda: client.from_("notes").select("id").execute(),
        lambda: client.from_("notes").insert({"owner_email": "x", "body": "y"}).execute(),
        lambda: client.rpc("shared_stages_whoami", {}).execute(),
    ):
        with answers(client) as seen:
            error = caught_error(run)
        assert seen[-1].status_code == 403
        assert set(seen[-1].json()) == {"code", "details", "hint", "message"}
        assert "has no database role" in str(error.message)
