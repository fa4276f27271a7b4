"""Real-PostgreSQL fixtures: a throwaway database loaded from tests/fixtures/schema.sql.

The server is TEST_DATABASE_URL, else 127.0.0.1:5432 (user postgres) when reachable, else an
embedded PostgreSQL from pgserver in .data/test-pg. Each test starts from freshly seeded
tables; the gateway's own metadata lives in pytest-django's test database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from django.test import Client
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.pg import find_server

FIXTURES = Path(__file__).parent / "fixtures"
SEED_SQL = (FIXTURES / "seed.sql").read_text()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A conninfo for a PostgreSQL server where we may create databases."""
    with find_server() as conninfo:
        yield conninfo


@pytest.fixture(scope="session")
def fixture_db(pg_server: str) -> Iterator[dict[str, Any]]:
    """A fresh database holding the fixture schema; dropped after the session."""
    name = f"gw_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    params = conninfo_to_dict(pg_server) | {"dbname": name}
    conninfo = make_conninfo("", **params)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for path in sorted(FIXTURES.glob("schema*.sql")):  # schema.sql, then schema_<topic>.sql
            conn.execute(path.read_text())
    yield {"conninfo": conninfo, **params}
    from services.registry import registry

    registry.close_all()
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)
            )
        )


@pytest.fixture
def seeded(fixture_db: dict[str, Any]) -> dict[str, Any]:
    """Every fixture table emptied and re-seeded (identities restarted)."""
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute(SEED_SQL)
    return fixture_db


@pytest.fixture
def pg(seeded: dict[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    """A direct connection to the fixture database, for asserting what was really written."""
    with psycopg.connect(seeded["conninfo"], autocommit=True) as conn:
        yield conn


def service_kwargs(db: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    kwargs = {
        "name": "shop",
        "host": db.get("host") or "127.0.0.1",
        "port": int(db.get("port") or 5432),
        "database": db["dbname"],
        "username": db.get("user") or "postgres",
        "password": db.get("password") or "",
        "schema": "public",
        "sslmode": "disable" if str(db.get("host", "")).startswith("/") else "prefer",
    }
    kwargs.update(overrides)
    return kwargs


def df_service_record(db: dict[str, Any], name: str, label: str) -> dict[str, Any]:
    """The fixture database as a `system/service` record in DreamFactory's shape."""
    settings = service_kwargs(db, name=name)
    config = {k: settings[k] for k in ("host", "port", "database", "username", "password")}
    return {
        "name": name,
        "label": label,
        "type": "pgsql",
        "is_active": True,
        "config": {**config, "schema": "public"},
    }


@pytest.fixture
def service(db: Any, seeded: dict[str, Any]) -> Any:
    """The fixture database registered as service `shop`."""
    from services.models import Service

    return Service.objects.create(**service_kwargs(seeded))


@pytest.fixture
def admin_user(db: Any) -> Any:
    from rbac.models import User

    return User.objects.create_superuser("admin@example.com", "correct-horse-battery")


class Api:
    """A test client that speaks JSON and returns (status, parsed body)."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> tuple[int, Any]:
        data: Any = raw if raw is not None else (orjson.dumps(body) if body is not None else "")
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{path}?{query}" if query else path
        response = getattr(self.client, method.lower())(
            url,
            data=data,
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )
        content = response.content
        try:
            parsed = orjson.loads(content) if content else None
        except orjson.JSONDecodeError:
            parsed = content
        return response.status_code, parsed

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("DELETE", path, body, **kw)


@pytest.fixture
def admin_token(admin_user: Any) -> str:
    client = Client()
    response = client.post(
        "/api/v2/system/admin/session",
        data={"email": "admin@example.com", "password": "correct-horse-battery"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["session_token"])


@pytest.fixture
def api(admin_token: str, service: Any) -> Api:
    """An admin client with the `shop` service registered."""
    return Api(Client(), {"X-DreamFactory-Session-Token": admin_token})


@pytest.fixture
def anon() -> Api:
    return Api(Client(), {})


@pytest.fixture(autouse=True)
def _fresh_registry() -> Iterator[None]:
    """No service, pool, token, role, app, throttle or audit state leaks from one test to the
    next (audit events a test left waiting are dropped: none reaches the process's exit flush,
    which would find no audit store)."""
    from django.core.cache import cache

    from apikeys.lookup import clear_cache as clear_apps
    from audit.recorder import recorder
    from gateway import key_reads
    from gateway.postgrest import key_reads as rest_key_reads
    from rbac import catalog, revocation
    from rbac.sessions import clear_caches
    from services.registry import registry

    registry.invalidate()
    clear_caches()
    clear_apps()
    catalog.clear_cache()
    revocation.clear()
    cache.clear()
    yield
    registry.invalidate()
    recorder.discard()
    key_reads.forget()
    rest_key_reads.forget()


# --- security personas: roles, apps with keys, users (issue #3) ----------------------------


def make_role(name: str, rules: list[dict[str, Any]], **fields: Any) -> Any:
    """A role with access rules ({service, component, verb_mask, filters, filter_op})."""
    from rbac.models import Role, RoleServiceAccess

    role = Role.objects.create(name=name, **fields)
    for rule in rules:
        RoleServiceAccess.objects.create(role=role, **rule)
    return role


def make_app(name: str, role: Any = None, *, is_active: bool = True) -> tuple[Any, str]:
    """An app and its API key (the plaintext, as shown once)."""
    from apikeys.api import new_key
    from apikeys.models import App

    app = App(name=name, role=role, is_active=is_active)
    key = new_key(app)
    app.save()
    return app, key


def make_user(email: str, password: str = "user-password-123") -> Any:
    """A non-admin user with no role yet (see assign_role)."""
    from rbac.models import User

    return User.objects.create_user(email, password)


def assign_role(user: Any, app: Any, role: Any) -> None:
    from rbac.models import UserAppRole

    UserAppRole.objects.create(user=user, app=app, role=role)


def login(email: str, password: str, api_key: str | None = None) -> str:
    """A user session token through POST /api/v2/user/session."""
    headers = {"X-DreamFactory-Api-Key": api_key} if api_key else {}
    response = Client().post(
        "/api/v2/user/session",
        data={"email": email, "password": password},
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200, response.content
    return str(response.json()["session_token"])


def client_for(api_key: str | None = None, token: str | None = None) -> Api:
    headers = {}
    if api_key is not None:
        headers["X-DreamFactory-Api-Key"] = api_key
    if token is not None:
        headers["X-DreamFactory-Session-Token"] = token
    return Api(Client(), headers)


# --- shared assertions and token claims --------------------------------------------------


def assert_error(
    status: int, body: Any, expected: int, message: str, *, prefix: bool = False
) -> dict[str, Any]:
    """The DF error envelope with this status and message (or message start)."""
    assert status == expected, body
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "context", "message", "status_code"}, error
    assert error["status_code"] == expected
    if prefix:
        assert error["message"].startswith(message), error["message"]
    else:
        assert error["message"] == message
    return error


BATCH_ERROR = "Batch Error: Not all requested records could be "


def assert_batch_error(
    status: int, body: Any, index: int, message: str, *, prefix: bool = False, expected: int = 400
) -> dict[str, Any]:
    """A batch error (spec §3.8: 400, code 1000) in which record `index` failed with status
    `expected` and this message (or message start); returns that record's error object."""
    error = assert_error(status, body, 400, BATCH_ERROR, prefix=True)
    assert error["code"] == 1000, error
    assert index in error["context"]["error"], error
    inner: dict[str, Any] = error["context"]["resource"][index]
    assert inner["status_code"] == expected, inner
    if prefix:
        assert inner["message"].startswith(message), inner["message"]
    else:
        assert inner["message"] == message, inner["message"]
    return inner


def claims_for(user: Any, **overrides: Any) -> dict[str, Any]:
    """The claims rbac.sessions.issue_token writes, valid for an hour unless overridden."""
    import hashlib
    import time

    now = int(time.time())
    claims = {
        "iss": "http://testserver/api/v2/user/session",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "ab" * 16,
        "sub": hashlib.md5(user.email.encode(), usedforsecurity=False).hexdigest(),
        "user_id": user.pk,
        "forever": False,
    }
    claims.update(overrides)
    return claims


# --- caches: local memory, and a real Redis where Redis is the feature (issue #6) -----------

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NO_REDIS = (
    f"Redis is not reachable at {REDIS_URL} (set TEST_REDIS_URL): the shared-cache tests are "
    "skipped here, and fail under CI."
)


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def redis_caches(prefix: str) -> dict[str, Any]:
    """CACHES for Django's Redis backend, under a prefix of this test's own."""
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail(NO_REDIS)
        pytest.skip(NO_REDIS)
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }


def drop_redis_prefix(prefix: str) -> None:
    """Delete this test's keys only (other workers share the Redis database)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Each test runs once on local memory and once on Redis (the shared backend)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "redis":
        settings.CACHES = redis_caches(prefix)
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": prefix,
            }
        }
    yield str(request.param)
    if request.param == "redis":
        drop_redis_prefix(prefix)
