"""A real two-worker gateway serving the fixture database at `/rest/shop/`, provisioned once
per module through the system API: an admin session, and an app whose role reads customers
(only those of the US: a row filter) and orders."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from postgrest import SyncPostgrestClient
from postgrest.exceptions import APIError

from tests.conftest import REDIS_URL, SEED_SQL, df_service_record, drop_redis_prefix, redis_caches
from tests.servers import GatewayServer, granian_workers, manage

ADMIN = {"email": "pgrst-admin@example.com", "password": "pgrst-admin-password-1234"}
CREATE_ADMIN = (
    "from rbac.models import User; "
    f"User.objects.create_superuser('{ADMIN['email']}', '{ADMIN['password']}')"
)


def _ok(answer: tuple[int, Any, Any], status: int = 200) -> Any:
    code, body, _ = answer
    assert code == status, body
    return body


class Rest:
    """The running server and the credentials the tests call `/rest/<service>/` with."""

    def __init__(self, server: GatewayServer, service: str, admin_token: str, api_key: str):
        self.server, self.service = server, service
        self.admin_token, self.api_key = admin_token, api_key

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/rest/{self.service}"

    def client(self, **headers: str) -> SyncPostgrestClient:
        """A client signed in as the admin (the session token as bearer)."""
        return SyncPostgrestClient(
            self.base_url, headers={"Authorization": f"Bearer {self.admin_token}", **headers}
        )

    def app_client(self, **headers: str) -> SyncPostgrestClient:
        """A client of the app (its key in `apikey`, and as bearer, as supabase-js sends it)."""
        return SyncPostgrestClient(
            self.base_url,
            headers={"apikey": self.api_key, "Authorization": f"Bearer {self.api_key}", **headers},
        )

    def anonymous(self) -> SyncPostgrestClient:
        return SyncPostgrestClient(self.base_url, headers={})


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory, fixture_db: dict[str, Any]) -> Iterator[Rest]:
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute(SEED_SQL)  # the tests here only read: seeded once for the module
    tmp_path: Path = tmp_path_factory.mktemp("pgrst")
    prefix = f"pgrst{uuid.uuid4().hex[:8]}"
    redis_caches(prefix)  # two workers share Redis (skips, or fails under CI, without one)
    env = {
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        "GATEWAY_AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "GATEWAY_METADATA_POLL_SECONDS": str(POLL_SECONDS),
    }
    settings = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings, "migrate", "-v0")
    manage(settings, "shell", "-v0", "-c", CREATE_ADMIN)
    server = GatewayServer(env, tmp_path / "gateway.log", command=granian_workers(2)).start()
    try:
        yield _provision(server, fixture_db)
    finally:
        server.stop()
        drop_redis_prefix(prefix)


POLL_SECONDS = 0.2  # GATEWAY_METADATA_POLL_SECONDS of the test server


def settle() -> None:
    """Wait out the metadata poll after writing roles or apps: each worker refreshes its
    snapshots on its first request after the interval, so a new API key works everywhere."""
    time.sleep(POLL_SECONDS * 1.5)


def app_key(
    server: GatewayServer, admin_token: str, name: str, access: list[dict[str, Any]]
) -> str:
    """A role with these access rules and an app whose default role it is: the app's key,
    once every worker knows them."""
    as_admin = {"X-DreamFactory-Session-Token": admin_token}
    role = _ok(
        server.call(
            "POST",
            "/api/v2/system/role?related=role_service_access_by_role_id",
            {
                "resource": [
                    {"name": name, "is_active": True, "role_service_access_by_role_id": access}
                ]
            },
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    app = _ok(
        server.call(
            "POST",
            "/api/v2/system/app?fields=*",
            {"resource": [{"name": f"{name} app", "is_active": True, "role_id": role["id"]}]},
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    settle()
    return str(app["api_key"])


def _provision(server: GatewayServer, db: dict[str, Any]) -> Rest:
    token = _ok(server.call("POST", "/api/v2/system/admin/session", ADMIN))["session_token"]
    as_admin = {"X-DreamFactory-Session-Token": token}
    service = _ok(
        server.call(
            "POST",
            "/api/v2/system/service",
            {"resource": [df_service_record(db, "shop", "Shop")]},
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    access = [
        {
            "service_id": service["id"],
            "component": "_table/customers",
            "verb_mask": 1,
            "requestor_mask": 1,
            "filters": [{"name": "country", "operator": "=", "value": "US"}],
            "filter_op": "AND",
        },
        {
            "service_id": service["id"],
            "component": "_table/orders",
            "verb_mask": 1,
            "requestor_mask": 1,
        },
    ]
    api_key = app_key(server, token, "reader", access)
    return Rest(server, "shop", token, api_key)


@contextmanager
def answers(client: SyncPostgrestClient) -> Iterator[list[httpx.Response]]:
    """The HTTP answers the client receives (status and headers the client does not expose)."""
    seen: list[httpx.Response] = []
    client.session.event_hooks["response"].append(seen.append)
    yield seen


def caught_error(run: Any) -> APIError:
    """The client's APIError for a call that must fail."""
    with pytest.raises(APIError) as caught:
        run()
    return caught.value
