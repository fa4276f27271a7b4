"""Sign-in with an LDAP provider (issue #15, item 2) against a real slapd (tests/ldap_server.py).

Personas: Alice (group `sales`) and Bob (group `ops`) in the directory; the provider `corp`
searches with a reader account, then binds as the user. `sales` maps to a role that reads
`shop`'s tables through the "Todo app"; `ops` maps to a role that reads nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from ldap3 import MODIFY_ADD, MODIFY_DELETE, Connection, Server

from core.verbs import GET
from tests import ldap_server
from tests.conftest import assert_error, client_for, make_app, make_role, make_user
from tests.sso_helpers import assert_alice_signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

USER_SESSION = "/api/v2/user/session"
ENVIRONMENT = "/api/v2/system/environment"
TODO = "/api/v2/shop/_table/todo"
INVALID = "Invalid credentials supplied."
ALICE_PASSWORD = ldap_server.USERS["alice"][0]
SALES = f"cn=sales,{ldap_server.GROUPS}"
OPS = f"cn=ops,{ldap_server.GROUPS}"


@pytest.fixture(scope="module")
def slapd() -> Iterator[ldap_server.Slapd]:
    with ldap_server.start_slapd() as server:
        yield server


@pytest.fixture
def corp(slapd: ldap_server.Slapd, service: Any) -> SimpleNamespace:
    from rbac.models import LdapProvider

    if slapd.process is None:  # a test stopped it
        slapd.start()
    sales = make_role("sales", [{"service": service, "component": "_table/*", "verb_mask": GET}])
    ops = make_role("ops", [])
    app, key = make_app("Todo app")
    provider = LdapProvider.objects.create(
        name="corp",
        label="Corporate directory",
        host="127.0.0.1",
        port=slapd.port,
        base_dn=ldap_server.SUFFIX,
        bind_dn=ldap_server.BIND_DN,
        bind_password=ldap_server.BIND_PASSWORD,
        timeout=2,
        default_role=ops,
        role_map=[{"group": SALES, "role_id": sales.pk}, {"group": "ops", "role_id": ops.pk}],
    )
    return SimpleNamespace(provider=provider, sales=sales, ops=ops, app=app, key=key, slapd=slapd)


def ldap_login(body: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    headers = {"X-DreamFactory-Api-Key": key} if key else {}
    response = Client().post(
        USER_SESSION, data=body, content_type="application/json", headers=headers
    )
    assert response["Content-Type"].startswith("application/json"), response.content
    return response.status_code, response.json()


def directory(slapd: ldap_server.Slapd) -> Connection:
    server = Server("127.0.0.1", port=slapd.port)
    return Connection(server, ldap_server.ROOT_DN, ldap_server.ROOT_PASSWORD, auto_bind=True)


def test_first_login_creates_the_user_with_the_mapped_role(corp: SimpleNamespace) -> None:

    status, body = ldap_login(
        {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}, corp.key
    )
    assert status == 200, body
    assert_alice_signed_in(body, "ldap:corp", corp.sales, corp.app)
    # a normal gateway session: the token reads data through the role
    status, rows = client_for(corp.key, body["session_token"]).get(TODO)
    assert status == 200 and len(rows["resource"]) == 5


def test_second_login_links_the_same_user_and_email_links_an_existing_one(
    corp: SimpleNamespace,
) -> None:
    from rbac.models import User

    existing = make_user("bob@example.com")
    first = ldap_login({"username": "bob", "password": "bob-password-2", "service": "corp"})
    second = ldap_login({"email": "bob", "password": "bob-password-2", "service": "corp"})
    assert first[0] == second[0] == 200, (first, second)
    assert first[1]["id"] == second[1]["id"] == existing.pk
    assert User.objects.filter(email="bob@example.com").count() == 1
    existing.refresh_from_db()
    assert existing.source == "ldap:corp"


def test_group_change_changes_the_role_at_next_login(corp: SimpleNamespace) -> None:
    body = {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}
    assert ldap_login(body, corp.key)[1]["role"] == "sales"
    alice = f"uid=alice,{ldap_server.PEOPLE}"
    with directory(corp.slapd) as conn:
        assert conn.modify(SALES, {"member": [(MODIFY_DELETE, [alice])]})
        assert conn.modify(OPS, {"member": [(MODIFY_ADD, [alice])]})
    try:
        status, answer = ldap_login(body, corp.key)
        assert status == 200 and answer["role"] == "ops", answer
        status, _ = client_for(corp.key, answer["session_token"]).get(TODO)
        assert status == 403
    finally:
        with directory(corp.slapd) as conn:
            conn.modify(OPS, {"member": [(MODIFY_DELETE, [alice])]})
            conn.modify(SALES, {"member": [(MODIFY_ADD, [alice])]})


def test_no_group_gets_the_default_role_and_app_roles_come_first(corp: SimpleNamespace) -> None:
    corp.provider.role_map = []
    corp.provider.app_role_map = {str(corp.app.pk): [{"group": "sales", "role_id": corp.ops.pk}]}
    corp.provider.save()
    status, body = ldap_login(
        {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}, corp.key
    )
    assert status == 200 and body["role"] == "ops", body


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong-password"),
        ("nobody", "whatever-1"),
        ("*", ALICE_PASSWORD),
        ("*)(uid=*", ALICE_PASSWORD),
        ("alice)(|(uid=*", ALICE_PASSWORD),
    ],
)
def test_wrong_password_unknown_user_or_injection_is_401(
    corp: SimpleNamespace, username: str, password: str
) -> None:
    from rbac.models import User

    status, body = ldap_login({"username": username, "password": password, "service": "corp"})
    assert_error(status, body, 401, INVALID)
    assert not User.objects.filter(source="ldap:corp").exists()


def test_empty_password_is_400_before_any_bind(corp: SimpleNamespace) -> None:
    before = corp.slapd.log().count(" BIND ")
    for password in ("", None):
        status, body = ldap_login({"username": "alice", "password": password, "service": "corp"})
        assert_error(status, body, 400, "Login request is missing required password.")
    assert corp.slapd.log().count(" BIND ") == before


def test_unknown_service_is_400(corp: SimpleNamespace) -> None:
    status, body = ldap_login({"username": "alice", "password": "x", "service": "nope"})
    assert_error(status, body, 400, "Unknown or inactive login service 'nope'.")


def test_failed_logins_are_throttled(corp: SimpleNamespace, settings: Any) -> None:
    settings.GATEWAY_LOGIN_MAX_FAILURES = 2
    body = {"username": "alice", "password": "wrong", "service": "corp"}
    assert ldap_login(body)[0] == 401
    assert ldap_login(body)[0] == 401
    status, answer = ldap_login({**body, "password": ALICE_PASSWORD})
    assert_error(status, answer, 429, "Too many failed logins for this account.", prefix=True)


def test_server_down_is_503(corp: SimpleNamespace) -> None:
    corp.slapd.stop()
    try:
        status, body = ldap_login(
            {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}
        )
        error = assert_error(status, body, 503, "The directory of 'corp'", prefix=True)
        assert "cannot be reached" in error["message"]
    finally:
        corp.slapd.start()


def test_direct_bind_with_account_suffix(corp: SimpleNamespace) -> None:
    corp.provider.bind_dn = ""
    corp.provider.bind_password = ""
    corp.provider.account_suffix = f",{ldap_server.PEOPLE}"  # binds as uid=alice,ou=people,...
    corp.provider.save()
    status, body = ldap_login(
        {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}, corp.key
    )
    assert status == 200 and body["email"] == "alice@example.com", body
    status, body = ldap_login({"username": "alice", "password": "bad", "service": "corp"})
    assert_error(status, body, 401, INVALID)


def test_environment_lists_the_ldap_services(corp: SimpleNamespace) -> None:
    body = Client().get(ENVIRONMENT).json()
    assert body["authentication"]["ldap"] == [
        {"name": "corp", "label": "Corporate directory", "path": "user/session", "verb": "POST"}
    ]


def test_bind_password_is_encrypted_and_never_logged(
    corp: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bind_password FROM rbac_ldapprovider WHERE service_id = %s", [corp.provider.pk]
        )
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and ldap_server.BIND_PASSWORD not in stored
    caplog.set_level(logging.DEBUG)
    corp.slapd.stop()
    try:
        ldap_login({"username": "alice", "password": ALICE_PASSWORD, "service": "corp"})
    finally:
        corp.slapd.start()
    ldap_login({"username": "alice", "password": "wrong", "service": "corp"})
    assert ldap_server.BIND_PASSWORD not in caplog.text
    assert ALICE_PASSWORD not in caplog.text


def test_admin_page_masks_the_bind_password_and_tests_the_bind(
    corp: SimpleNamespace, admin_user: Any
) -> None:
    staff = Client()
    staff.force_login(admin_user)
    url = f"/admin/rbac/ldapprovider/{corp.provider.pk}/change/"
    page = staff.get(url).content.decode()
    assert "Corporate directory" in page and ldap_server.BIND_PASSWORD not in page

    def test_action() -> str:
        response = staff.post(
            "/admin/rbac/ldapprovider/",
            {"action": "test_provider", "_selected_action": [corp.provider.pk]},
            follow=True,
        )
        return response.content.decode()

    assert "answers and the bind DN binds" in test_action()
    corp.provider.bind_password = "wrong"
    corp.provider.save()
    assert "refused the provider&#x27;s bind DN" in test_action()
    corp.slapd.stop()
    try:
        assert "cannot be reached" in test_action()
    finally:
        corp.slapd.start()
    users = staff.get("/admin/rbac/user/").content.decode()
    assert "source" in users.lower()


def test_starttls_verifies_the_servers_certificate(corp: SimpleNamespace) -> None:
    body = {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}
    corp.provider.use_tls = True
    corp.provider.save()
    status, answer = ldap_login(body)  # self-signed: not trusted by the system's CAs
    error = assert_error(status, answer, 503, "The directory of 'corp'", prefix=True)
    assert "TLS handshake failed" in error["message"]
    corp.provider.tls_ca_file = corp.slapd.ca_file
    corp.provider.save()
    status, answer = ldap_login(body)
    assert status == 200 and answer["email"] == "alice@example.com", answer
    assert "TLS established" in corp.slapd.log()


def test_a_provider_has_no_data_api_and_a_service_like_name(
    corp: SimpleNamespace, admin_token: str
) -> None:
    from django.core.exceptions import ValidationError

    for path in ("/api/v2/corp", "/api/v2/corp/_table/users"):
        status, body = client_for(token=admin_token).get(path)
        assert status == 404, body
    corp.provider.service.name = "Bad Name!"
    with pytest.raises(ValidationError):
        corp.provider.service.full_clean()


def test_a_server_that_never_answers_is_503_within_the_timeout(corp: SimpleNamespace) -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        corp.provider.port = silent.getsockname()[1]
        corp.provider.timeout = 1
        corp.provider.save()
        started = time.monotonic()
        status, body = ldap_login(
            {"username": "alice", "password": ALICE_PASSWORD, "service": "corp"}
        )
        elapsed = time.monotonic() - started
    error = assert_error(status, body, 503, "The directory of 'corp'", prefix=True)
    assert "did not answer within 1 seconds" in error["message"], error
    assert elapsed < 5
