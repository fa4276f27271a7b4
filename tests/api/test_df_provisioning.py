"""A DreamFactory-style provisioning script, run unchanged against a fresh gateway (issue #13).

What an admin script written for DreamFactory does, in DF's own shapes, over HTTP against a real
server with two workers: log in as the admin, create a service in DF's record shape (`type` and a
nested `config`), a role with access rules, a `system/*` grant and a role lookup, an app with that
role, a user with a role for the app; then, as the user, log in through `user/session`, read
through the service (the role's row filter uses the lookup), read the system resource the role
grants, change the password and log out.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL, df_service_record, drop_redis_prefix, redis_caches
from tests.servers import GatewayServer, granian_workers, manage

pytestmark = pytest.mark.slow

ADMIN = {"email": "provision@example.com", "password": "provision-password-1234"}
CREATE_ADMIN = (
    "from rbac.models import User; "
    f"User.objects.create_superuser('{ADMIN['email']}', '{ADMIN['password']}')"
)
USER_EMAIL = "jane.provisioned@example.com"
FIRST_PASSWORD = "jane-first-password-1234"
SECOND_PASSWORD = "jane-second-password-5678"


@pytest.fixture
def server(tmp_path: Path, seeded: dict[str, Any]) -> Any:
    prefix = f"prov{uuid.uuid4().hex[:8]}"
    redis_caches(prefix)  # two workers share Redis (skips, or fails under CI, without one)
    env = {
        "CACHE_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": prefix,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}",
        "GATEWAY_AUDIT_DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "GATEWAY_METADATA_POLL_SECONDS": "0.2",
    }
    settings = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings, "migrate", "-v0")
    manage(settings, "shell", "-v0", "-c", CREATE_ADMIN)
    running = GatewayServer(env, tmp_path / "gateway.log", command=granian_workers(2)).start()
    try:
        yield running
    finally:
        running.stop()
        drop_redis_prefix(prefix)


def _ok(answer: tuple[int, Any, Any], status: int = 200) -> Any:
    code, body, _ = answer
    assert code == status, body
    return body


def test_a_dreamfactory_provisioning_script_runs_unchanged(
    server: GatewayServer, seeded: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:6]
    admin = _ok(server.call("POST", "/api/v2/system/admin/session", ADMIN))
    as_admin = {"X-DreamFactory-Session-Token": admin["session_token"]}

    # a service in DF's record shape: type + nested config
    service_name = f"crm{tag}"
    created = _ok(
        server.call(
            "POST",
            "/api/v2/system/service?fields=*",
            {"resource": [df_service_record(seeded, service_name, "CRM")]},
            headers=as_admin,
        ),
        201,
    )
    service = created["resource"][0]
    assert service["type"] == "pgsql" and service["config"]["database"] == seeded["dbname"]
    service_id = service["id"]

    # a role: read customers of the role's country only, a system grant, a role lookup
    role = _ok(
        server.call(
            "POST",
            "/api/v2/system/role?fields=*&related=role_service_access_by_role_id,lookup_by_role_id",
            {
                "resource": [
                    {
                        "name": f"sales{tag}",
                        "is_active": True,
                        "role_service_access_by_role_id": [
                            {
                                "service_id": service_id,
                                "component": "_table/customers",
                                "verb_mask": 1,
                                "requestor_mask": 1,
                                "filters": [
                                    {"name": "country", "operator": "=", "value": "{country}"}
                                ],
                                "filter_op": "AND",
                            },
                            SYSTEM_GRANT,
                        ],
                        "lookup_by_role_id": [{"name": "country", "value": "US", "private": False}],
                    }
                ]
            },
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    assert len(role["role_service_access_by_role_id"]) == 2
    assert [lk["name"] for lk in role["lookup_by_role_id"]] == ["country"]

    # an app with that role; its key is in the record
    app = _ok(
        server.call(
            "POST",
            "/api/v2/system/app?fields=*",
            {"resource": [{"name": f"portal{tag}", "is_active": True, "role_id": role["id"]}]},
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    api_key = app["api_key"]
    time.sleep(0.3)  # past the metadata poll: every worker knows the new role and app

    # a user with a role for the app
    user = _ok(
        server.call(
            "POST",
            "/api/v2/system/user?fields=*&related=user_to_app_to_role_by_user_id",
            {
                "resource": [
                    {
                        "email": USER_EMAIL,
                        "first_name": "Jane",
                        "last_name": "Doe",
                        "password": FIRST_PASSWORD,
                        "is_active": True,
                        "user_to_app_to_role_by_user_id": [
                            {"app_id": app["id"], "role_id": role["id"]}
                        ],
                    }
                ]
            },
            headers=as_admin,
        ),
        201,
    )["resource"][0]
    assert user["name"] == "Jane Doe"
    assert user["user_to_app_to_role_by_user_id"][0]["role_id"] == role["id"]

    # the user logs in through the user service with the app's key
    with_key = {"X-DreamFactory-Api-Key": api_key}
    session = _ok(
        server.call(
            "POST",
            "/api/v2/user/session",
            {"email": USER_EMAIL, "password": FIRST_PASSWORD},
            headers=with_key,
        )
    )
    assert session["role_id"] == role["id"]
    as_user = {**with_key, "X-DreamFactory-Session-Token": session["session_token"]}

    # reads through the service: the row filter's lookup keeps the role's country
    rows = _ok(
        server.call(
            "GET", f"/api/v2/{service_name}/_table/customers?fields=name,country", headers=as_user
        )
    )["resource"]
    assert sorted(r["name"] for r in rows) == ["Acme", "Initech"]
    assert {r["country"] for r in rows} == {"US"}
    code, _, _ = server.call("GET", f"/api/v2/{service_name}/_table/orders", headers=as_user)
    assert code == 403

    # the system grant: the role may list roles, not create them
    roles = _ok(server.call("GET", "/api/v2/system/role", headers=as_user))["resource"]
    assert role["id"] in {r["id"] for r in roles}
    code, _, _ = server.call(
        "POST", "/api/v2/system/role", {"resource": [{"name": f"x{tag}"}]}, headers=as_user
    )
    assert code == 403

    # the user changes the password, then logs out
    _ok(
        server.call(
            "POST",
            "/api/v2/user/password",
            {"old_password": FIRST_PASSWORD, "new_password": SECOND_PASSWORD},
            headers=as_user,
        )
    )
    assert _ok(server.call("DELETE", "/api/v2/user/session", headers=as_user)) == {"success": True}
    code, _, _ = server.call("GET", f"/api/v2/{service_name}/_table/customers", headers=as_user)
    assert code in (401, 403)

    # the old password no longer works; the new one does
    code, _, _ = server.call(
        "POST",
        "/api/v2/user/session",
        {"email": USER_EMAIL, "password": FIRST_PASSWORD},
        headers=with_key,
    )
    assert code == 401
    _ok(
        server.call(
            "POST",
            "/api/v2/user/session",
            {"email": USER_EMAIL, "password": SECOND_PASSWORD},
            headers=with_key,
        )
    )


# a grant on the system API: no service, a `system/...` component (docs/compatibility.md)
SYSTEM_GRANT: dict[str, Any] = {
    "service_id": None,
    "component": "system/role",
    "verb_mask": 1,
    "requestor_mask": 1,
}
