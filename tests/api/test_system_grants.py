"""Role grants on the system API (spec §9: "admin rights, or a role that grants system
components"). A rule names the system API with no service and a `system/...` component
(rbac/system_rules.py); everything a role does not grant stays refused and unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from core.verbs import ALL_VERBS, GET, POST
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

ROLE = "/api/v2/system/role"
USER = "/api/v2/system/user"
LOOKUP = "/api/v2/system/lookup"
PASSWORD = "user-password-123"
NO_CREDENTIALS = "No session token (JWT) or API Key detected in request."
NOT_AUTHORIZED = "You are not authorized to perform this action."
NOT_AUTHENTICATED = "Unauthorized. User is not authenticated."


def _callers(role: Any) -> tuple[Api, Api]:
    """(the app's key alone, a user of the app), both acting with `role`."""
    app, key = make_app(f"{role.name} app", role)
    user = make_user(f"{role.pk}@example.com", PASSWORD)
    assign_role(user, app, role)
    return client_for(key), client_for(key, login(user.email, PASSWORD, key))


def _role_names() -> list[str]:
    from rbac.models import Role

    return sorted(Role.objects.values_list("name", flat=True))


def test_a_get_grant_on_system_role_lists_roles_but_cannot_create_them(service: Any) -> None:
    viewer = make_role(
        "role viewer", [{"service": None, "component": "system/role/*", "verb_mask": GET}]
    )
    app_only, user = _callers(viewer)
    for client in (app_only, user):
        status, body = client.get(ROLE, fields="name")
        assert status == 200, body
        assert body == {"resource": [{"name": "role viewer"}]}
        status, body = client.get(f"{ROLE}/{viewer.pk}", related="role_service_access_by_role_id")
        assert status == 200 and body["name"] == "role viewer"
    before = _role_names()

    status, body = user.post(ROLE, [{"name": "sneaky"}])
    assert_error(
        status,
        body,
        403,
        "Access Forbidden. POST access to component 'role' of service 'system' is not "
        "allowed by this user's role.",
    )
    status, body = app_only.post(ROLE, [{"name": "sneaky"}])
    assert_error(status, body, 401, NOT_AUTHENTICATED)
    status, body = user.patch(f"{ROLE}/{viewer.pk}", {"name": "renamed"})
    assert status == 403, body
    status, body = user.get(USER)  # another system resource: not granted
    assert_error(status, body, 403, "Access Forbidden. GET access to component 'user'", prefix=True)
    assert _role_names() == before


def test_without_a_system_grant_the_system_api_stays_refused(service: Any) -> None:
    everything = make_role(
        "every service",
        [
            {"service": None, "component": "*", "verb_mask": ALL_VERBS},  # not the system API
            {"service": service, "component": "*", "verb_mask": ALL_VERBS},
        ],
    )
    app_only, user = _callers(everything)
    for path in (ROLE, USER, LOOKUP, "/api/v2/system/service"):
        status, body = user.get(path)
        assert_error(status, body, 403, NOT_AUTHORIZED)
        status, body = app_only.get(path)
        assert_error(status, body, 401, NO_CREDENTIALS, prefix=True)
    status, body = client_for().get(ROLE)
    assert_error(status, body, 401, NO_CREDENTIALS, prefix=True)
    status, body = user.get("/api/v2/shop/_table/todo")  # the data API is as granted
    assert status == 200, body


def test_an_inactive_role_grants_nothing_on_the_system_api(service: Any) -> None:
    role = make_role(
        "sleeping",
        [{"service": None, "component": "system/*", "verb_mask": ALL_VERBS}],
        is_active=False,
    )
    app, key = make_app("sleeping app", role)
    status, body = client_for(key).get(ROLE)
    assert status == 401, body


def test_a_system_wide_grant_provisions_roles_and_lookups(service: Any, admin_user: Any) -> None:
    provisioner = make_role(
        "provisioner",
        [
            {"service": None, "component": "system/*", "verb_mask": ALL_VERBS},
            {"service": None, "component": "system/user", "verb_mask": GET},
        ],
    )
    _app_only, user = _callers(provisioner)
    status, body = user.post(
        ROLE,
        [{"name": "west", "lookup_by_role_id": [{"name": "region", "value": "US"}]}],
        related="lookup_by_role_id",
    )
    assert status == 201, body
    assert body["resource"][0]["lookup_by_role_id"][0]["value"] == "US"
    status, body = user.post(LOOKUP, [{"name": "tier", "value": "gold"}])
    assert status == 201, body
    assert "west" in _role_names()

    # the exact rule `system/user` (GET) is more specific than `system/*`: no POST there
    status, body = user.post(USER, [{"email": "new@example.com"}])
    assert status == 403, body
    status, body = user.get(USER)
    assert status == 200, body
    # admins are managed by admins only
    status, body = user.patch(f"{USER}/{admin_user.pk}", {"first_name": "x"})
    assert status == 403, body
    status, body = user.get("/api/v2/system/admin/session")
    assert status != 200, body


def test_system_rules_are_checked_when_written(api: Api) -> None:
    status, body = api.post(
        ROLE,
        [
            {
                "name": "bad",
                "role_service_access_by_role_id": [
                    {
                        "service_id": None,
                        "component": "system/role",
                        "verb_mask": GET,
                        "filters": [{"name": "id", "operator": "=", "value": "1"}],
                    }
                ],
            }
        ],
    )
    assert status == 400, body
    assert "has no filters" in orjson.dumps(body["error"]).decode()
    status, body = api.post(
        ROLE,
        [
            {
                "name": "good",
                "role_service_access_by_role_id": [
                    {"service_id": None, "component": "system/role/*", "verb_mask": GET | POST}
                ],
            }
        ],
    )
    assert status == 201, body


def test_a_service_grant_shows_only_the_services_the_role_reaches(
    service: Any, seeded: dict[str, Any]
) -> None:
    from services.models import Service

    other = Service.objects.create(**service_kwargs(seeded, name="elsewhere"))
    operator = make_role(
        "service viewer",
        [
            {"service": service, "component": "_table/*", "verb_mask": GET},
            {"service": None, "component": "system/service/*", "verb_mask": GET},
        ],
    )
    _, user = _callers(operator)
    status, body = user.get("/api/v2/system/service", fields="name")
    assert status == 200, body
    assert body == {"resource": [{"name": service.name}]}
    assert user.get(f"/api/v2/system/service/{service.pk}")[1]["name"] == service.name
    status, body = user.get(f"/api/v2/system/service/{other.pk}")
    assert_error(status, body, 404, f"Record with identifier '{other.pk}' not found.")

    everywhere = make_role(
        "all services viewer",
        [
            {"service": None, "component": "*", "verb_mask": GET},
            {"service": None, "component": "system/service/*", "verb_mask": GET},
        ],
    )
    _, user = _callers(everywhere)
    status, body = user.get("/api/v2/system/service", fields="name")
    assert sorted(r["name"] for r in body["resource"]) == sorted([service.name, "elsewhere"])
