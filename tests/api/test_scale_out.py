"""Scaling out (issue #6): two gateway processes on different ports sharing a PostgreSQL
metadata database, a PostgreSQL audit store and Redis, as two containers behind a load balancer
would.

A service registered or changed through one is served by the other within a second, a
session revoked on one is refused by the other, rate limits count calls on both, and a read
cached by one is a hit on the other (and a write through either invalidates it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.conftest import REDIS_URL, drop_redis_prefix, redis_caches, service_kwargs
from tests.servers import GatewayServer, manage

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ADMIN = {"email": "ops@example.com", "password": "ops-password-1234"}
CREATE_ADMIN = (
    "from rbac.models import User; "
    "User.objects.create_superuser('ops@example.com', 'ops-password-1234')"
)


def database_url(conninfo: str, dbname: str) -> str:
    params = conninfo_to_dict(conninfo)
    host = str(params.get("host") or "127.0.0.1")
    netloc = quote(host, safe="") if host.startswith("/") else host
    auth = quote(str(params.get("user") or "postgres"))
    if params.get("password"):
        auth += ":" + quote(str(params["password"]))
    return f"postgres://{auth}@{netloc}:{params.get('port') or 5432}/{dbname}"


@pytest.fixture
def pair(pg_server: str, tmp_path: Path) -> Iterator[tuple[GatewayServer, GatewayServer, str]]:
    """Two granian processes on one PostgreSQL metadata DB, one PostgreSQL audit store and one
    Redis (own key prefix), and a conninfo for that audit store."""
    prefix = f"scale{uuid.uuid4().hex[:8]}"
    redis_caches(prefix)  # skips (or fails under CI) without a Redis
    suffix = uuid.uuid4().hex[:8]
    name, audit_name = f"gw_meta_{suffix}", f"gw_audit_{suffix}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for db in (name, audit_name):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    env = {
        "DATABASE_URL": database_url(pg_server, name),
        "GATEWAY_AUDIT_DATABASE_URL": database_url(pg_server, audit_name),
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "GATEWAY_AUDIT_FLUSH_SECONDS": "0.2",
    }
    servers: list[GatewayServer] = []
    try:
        # migrates the metadata DB, then the audit store
        manage({**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}, "migrate", "-v0")
        manage(
            {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"},
            "shell",
            "-v0",
            "-c",
            CREATE_ADMIN,
        )
        servers = [GatewayServer(env, tmp_path / f"{n}.log").start() for n in ("a", "b")]
        yield servers[0], servers[1], make_conninfo(pg_server, dbname=audit_name)
    finally:
        for server in servers:
            server.stop()
        drop_redis_prefix(prefix)
        with psycopg.connect(pg_server, autocommit=True) as conn:
            for db in (name, audit_name):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
                )


def within(seconds: float, check: Callable[[], bool]) -> float:
    """Poll until `check()` holds; how long it took (fails after `seconds`)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _token(server: GatewayServer, path: str, body: dict[str, Any], key: str = "") -> str:
    headers = {"X-DreamFactory-Api-Key": key} if key else {}
    status, answer, _ = server.call("POST", path, body, headers=headers)
    assert status == 200, answer
    return str(answer["session_token"])


def test_two_instances_share_services_sessions_limits_and_cache(
    pair: tuple[GatewayServer, GatewayServer, str], seeded: dict[str, Any]
) -> None:
    a, b, audit_store = pair
    admin = {"X-DreamFactory-Session-Token": _token(a, "/api/v2/system/admin/session", ADMIN)}
    todo = "/api/v2/shop/_table/todo"

    # a service registered through A is served by B within a second
    shop = service_kwargs(seeded)
    config = {k: shop[k] for k in ("host", "port", "database", "username", "password")}
    config |= {"schema": "public", "sslmode": shop["sslmode"]}
    status, body, _ = a.call(
        "POST",
        "/api/v2/system/service",
        {"resource": [{"name": "shop", "config": config}]},
        headers=admin,
    )
    assert status == 201, body
    service_id = body["resource"][0]["id"]
    elapsed = within(3, lambda: b.call("GET", todo, headers=admin)[0] == 200)
    assert elapsed < 1.5

    # a change through B reaches A within a second
    patch = {"config": {"max_records": 2}}
    assert b.call("PATCH", f"/api/v2/system/service/{service_id}", patch, headers=admin)[0] == 200

    def two_rows_on_a() -> bool:
        return len(a.call("GET", todo, headers=admin)[1]["resource"]) == 2

    assert within(3, two_rows_on_a) < 1.5

    # a user session revoked through A is refused by B
    role = {
        "name": "reader",
        "role_service_access_by_role_id": [
            {"service_id": service_id, "component": "_table/*", "verb_mask": 1}
        ],
    }
    status, body, _ = a.call("POST", "/api/v2/system/role", [role], headers=admin)
    role_id = body["resource"][0]["id"]
    status, body, _ = a.call(
        "POST", "/api/v2/system/app", [{"name": "dash", "role_id": role_id}], headers=admin
    )
    key = body["resource"][0]["api_key"]
    user = {"email": "jane@example.com", "password": "a-long-passphrase-9"}
    assert a.call("POST", "/api/v2/system/user", [user], headers=admin)[0] == 201
    jane = {"X-DreamFactory-Api-Key": key}
    jane["X-DreamFactory-Session-Token"] = _token(b, "/api/v2/user/session", user, key)
    assert within(3, lambda: b.call("GET", todo, headers=jane)[0] == 200) < 1.5
    assert a.call("DELETE", "/api/v2/user/session", headers=jane)[0] == 200
    assert within(3, lambda: b.call("GET", todo, headers=jane)[0] == 403) < 1.5

    # one limit, counted on both: 3 calls an hour for everyone
    limit = {"name": "tiny", "type": "instance", "rate": 3, "period": "hour"}
    assert a.call("POST", "/api/v2/system/limit", [limit], headers=admin)[0] == 201
    keyed = {"X-DreamFactory-Api-Key": key}
    time.sleep(1.2)  # both processes have loaded the limit
    statuses = [s.call("GET", todo, headers=keyed)[0] for s in (a, b, a, b)]
    assert statuses == [200, 200, 200, 429]

    # a read cached by one instance is a hit on the other; a write through A invalidates it
    enable = {"config": {"cache_enabled": True, "cache_ttl": 60}}
    a.call("PATCH", f"/api/v2/system/service/{service_id}", enable, headers=admin)
    time.sleep(1.2)
    assert a.call("GET", f"{todo}/1", headers=admin)[2]["x-cache"] == "MISS"
    assert b.call("GET", f"{todo}/1", headers=admin)[2]["x-cache"] == "HIT"
    assert a.call("PATCH", f"{todo}/1", {"name": "renamed"}, headers=admin)[0] == 200
    status, body, headers = b.call("GET", f"{todo}/1", headers=admin)
    assert (headers["x-cache"], body["name"]) == ("MISS", "renamed")

    # both instances wrote their audit trail to the shared audit store (COPY, batched)
    def audited() -> list[tuple[Any, ...]]:
        with psycopg.connect(audit_store, autocommit=True) as conn:
            query = "SELECT service, verb, status, count(*) FROM audit_auditevent GROUP BY 1, 2, 3"
            return conn.execute(query).fetchall()

    within(5, lambda: any(r[2] == 429 for r in audited()))
    seen = {(service, verb, status) for service, verb, status, _ in audited()}
    assert {("system", "POST", 201), ("shop", "GET", 200), ("shop", "GET", 403)} <= seen
    assert ("shop", "GET", 429) in seen
