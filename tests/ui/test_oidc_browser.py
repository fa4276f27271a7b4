"""OpenID Connect sign-in in a real browser (issue #15): Debian's chromium follows the gateway's
redirect to a real oidc-provider (tests/oidc_server.py), logs in at its form and lands on the
app's redirect_url with ?session_token=, which then reads data through the role a group claim
maps to. And an admin signs in to the console with "Sign in with <provider>"."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests import oidc_server
from tests.conftest import make_app, service_kwargs
from tests.sso_helpers import completed_todos_role

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def acme(live_server: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Provider `acme_web` registered at the IdP for this live server's callback; `sales`
    reads only the completed todos."""
    from rbac.models import OidcProvider
    from services.models import Service

    idp = oidc_server.provider()
    service = Service.objects.create(**service_kwargs(seeded))
    sales = completed_todos_role(service)
    _, key = make_app("Todo app")
    callbacks = [oidc_server.callback_url(live_server.url, n) for n in ("acme_web", "acme_admin")]
    client_id, secret = idp.register(callbacks)
    common = idp.client_settings(client_id, secret, scopes="openid email profile groups", timeout=5)
    OidcProvider.objects.create(
        name="acme_web",
        label="Acme",
        redirect_url=f"{live_server.url}/health?from=sso",
        role_map=[{"group": "sales", "role_id": sales.pk}],
        **common,
    )
    OidcProvider.objects.create(
        name="acme_admin", label="Acme for admins", admin_sign_in=True, **common
    )
    return {"key": key, "idp": idp}


def _log_in_at_the_idp(page: Any, user: str, password: str) -> None:
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_user_signs_in_and_the_app_reads_data_with_the_token(
    acme: dict[str, Any], page: Any, screenshot: Any
) -> None:
    page.goto(f"/api/v2/user/session?service=acme_web&api_key={acme['key']}")
    assert page.url.startswith(acme["idp"].issuer)
    _log_in_at_the_idp(page, "alice", "wrong-password")
    assert "Invalid username or password." in page.locator("#error").inner_text()
    _log_in_at_the_idp(page, "alice", oidc_server.USERS["alice"])
    page.wait_for_url("**/health?from=sso&session_token=*")
    token = parse_qs(urlsplit(page.url).query)["session_token"][0]
    screenshot("oidc-landed-with-session-token")
    answer = Client().get(
        "/api/v2/shop/_table/todo",
        headers={"X-DreamFactory-Api-Key": acme["key"], "X-DreamFactory-Session-Token": token},
    )
    assert answer.status_code == 200, answer.content
    rows = answer.json()["resource"]
    assert len(rows) == 2 and all(row["complete"] is True for row in rows)


def test_an_admin_signs_in_to_the_console_with_the_provider(
    acme: dict[str, Any], admin_user: Any, page: Any, screenshot: Any
) -> None:
    page.goto("/admin/login/")
    page.click("text=Sign in with Acme for admins")
    _log_in_at_the_idp(page, "root", oidc_server.USERS["root"])
    page.wait_for_url("**/admin/")
    screenshot("oidc-admin-signed-in")
    assert "admin@example.com" in page.locator("#user-tools").inner_text().lower()
