"""Sign-in with an OpenID Connect provider (issue #15, item 1) against a real oidc-provider
(tests/oidc_server.py), driven with `requests` through the provider's own forms.

Personas at the IdP: alice (group `sales`), bob (group `ops`), carol (email not verified) and
root (admin@example.com, the console's admin). Provider `acme` maps `sales` to a role that reads
only the completed todos (a row filter); everyone else gets `staff`, which reads every todo.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from django.test import Client
from joserfc import jws, jwt
from joserfc.jwk import RSAKey

from core.verbs import GET
from rbac import oidc_login
from tests import oidc_server
from tests.api.test_db_roles import db_role, rls_service  # noqa: F401  (fixtures)
from tests.conftest import assert_error, client_for, make_app, make_role
from tests.sso_helpers import assert_alice_signed_in, completed_todos_role

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SESSION = "/api/v2/user/session"
TODO = "/api/v2/shop/_table/todo"
REST_TODO = "/rest/shop/todo"
UNKNOWN_STATE = "The sign-in 'state' is unknown"
COMPLETED = 2  # todos with complete = true (the sales role's row filter)
ALL = 5


@pytest.fixture(autouse=True)
def _no_cached_discovery() -> None:
    """Each test finds the provider afresh (its discovery and JWKS are cached in process)."""
    from rbac import external_tokens

    oidc_login.clear_cache()
    external_tokens.clear_cache()


@pytest.fixture(scope="session")
def idp() -> oidc_server.OidcServer:
    return oidc_server.provider()


@pytest.fixture
def acme(idp: oidc_server.OidcServer, service: Any) -> SimpleNamespace:
    from rbac.models import OidcProvider

    sales = completed_todos_role(service)
    staff = make_role("staff", [{"service": service, "component": "_table/*", "verb_mask": GET}])
    app, key = make_app("Todo app")
    provider = OidcProvider.objects.create(
        name="acme",
        label="Acme SSO",
        default_role=staff,
        role_map=[{"group": "sales", "role_id": sales.pk}],
        **idp.client_settings(scopes="openid email profile groups", timeout=2),
    )
    return SimpleNamespace(provider=provider, sales=sales, staff=staff, app=app, key=key, idp=idp)


def start(key: str | None = None, name: str = "acme") -> str:
    """GET /api/v2/user/session?service=<name>: the provider's authorization URL."""
    headers = {"X-DreamFactory-Api-Key": key} if key else {}
    response = Client().get(f"{SESSION}?service={name}", headers=headers)
    assert response.status_code == 302, response.content
    assert response["Cache-Control"] == "no-store"
    return str(response["Location"])


def callback(landing: str | None) -> Any:
    """The browser arriving back at the gateway's callback (the Django test client)."""
    assert landing is not None and landing.startswith(oidc_server.TESTSERVER), landing
    return Client().get(landing.removeprefix(oidc_server.TESTSERVER))


def sign_in(user: str, key: str | None = None, password: str | None = None) -> str | None:
    """Start at the gateway, log in at the IdP; the callback URL it sends the browser to."""
    password = oidc_server.USERS[user] if password is None else password
    return oidc_server.sign_in(start(key), user, password).url


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())).geturl()


# --- the sign-in ---------------------------------------------------------------------------


def test_sign_in_answers_a_session_whose_group_maps_to_a_row_filtered_role(
    acme: SimpleNamespace,
) -> None:

    location = start(acme.key)
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{acme.idp.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["state"][0] and query["nonce"][0] and "client_secret" not in location

    answer = callback(oidc_server.sign_in(location, "alice", oidc_server.USERS["alice"]).url)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert_alice_signed_in(body, "oidc:acme", acme.sales, acme.app)
    status, rows = client_for(acme.key, body["session_token"]).get(TODO)
    assert status == 200, rows
    assert len(rows["resource"]) == COMPLETED
    assert all(row["complete"] is True for row in rows["resource"])


def test_a_user_outside_the_mapped_groups_gets_the_default_role(acme: SimpleNamespace) -> None:
    answer = callback(sign_in("bob", acme.key))
    assert answer.status_code == 200, answer.content
    assert answer.json()["role"] == "staff"
    status, rows = client_for(acme.key, answer.json()["session_token"]).get(TODO)
    assert status == 200 and len(rows["resource"]) == ALL


def test_redirect_url_gets_the_session_token(acme: SimpleNamespace) -> None:
    acme.provider.redirect_url = "https://app.example.com/signed-in?from=sso"
    acme.provider.save()
    answer = callback(sign_in("alice", acme.key))
    assert answer.status_code == 302, answer.content
    target = urlsplit(answer["Location"])
    assert target.netloc == "app.example.com" and target.path == "/signed-in"
    query = parse_qs(target.query)
    assert query["from"] == ["sso"]
    status, rows = client_for(acme.key, query["session_token"][0]).get(TODO)
    assert status == 200 and len(rows["resource"]) == COMPLETED


def test_wrong_password_at_the_provider_gives_no_session(acme: SimpleNamespace) -> None:
    from rbac.models import User

    landing = oidc_server.sign_in(start(acme.key), "alice", "not-her-password")
    assert landing.url is None and landing.status == 401
    assert "Invalid username or password." in landing.page
    assert not User.objects.filter(email="alice@example.com").exists()


def test_replayed_state_is_refused(acme: SimpleNamespace) -> None:
    landing = sign_in("bob", acme.key)
    assert callback(landing).status_code == 200
    again = callback(landing)
    assert_error(
        again.status_code, again.json(), 400, "The sign-in 'state' is unknown", prefix=True
    )


def test_mismatched_or_missing_state_is_refused(acme: SimpleNamespace) -> None:
    landing = sign_in("bob", acme.key)
    assert landing is not None
    forged = callback(with_query(landing, state="made-up-state"))
    assert_error(
        forged.status_code, forged.json(), 400, "The sign-in 'state' is unknown", prefix=True
    )
    missing = Client().get(f"{SESSION}?oauth_callback=true&service=acme&code=abc")
    assert_error(
        missing.status_code,
        missing.json(),
        400,
        "The sign-in callback is missing its 'state' parameter.",
    )
    assert callback(landing).status_code == 200  # the real state still works, once


def test_expired_state_is_refused(acme: SimpleNamespace) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from rbac.models import SignInState

    landing = sign_in("bob", acme.key)
    SignInState.objects.update(created=timezone.now() - timedelta(minutes=11))
    answer = callback(landing)
    assert_error(answer.status_code, answer.json(), 400, "The sign-in took longer", prefix=True)


def test_wrong_nonce_is_refused(acme: SimpleNamespace) -> None:
    from rbac.models import SignInState

    landing = sign_in("bob", acme.key)
    SignInState.objects.update(nonce="another-sign-in-nonce")
    answer = callback(landing)
    assert_error(
        answer.status_code,
        answer.json(),
        401,
        "Invalid ID token: its nonce does not match this sign-in; start it again.",
    )


def test_a_provider_error_in_the_callback_is_a_401_naming_it(acme: SimpleNamespace) -> None:
    state = parse_qs(urlsplit(start(acme.key)).query)["state"][0]
    answer = Client().get(
        f"{SESSION}?oauth_callback=true&service=acme&state={state}&error=access_denied"
        "&error_description=End-User+aborted+interaction"
    )
    assert_error(
        answer.status_code,
        answer.json(),
        401,
        "The OpenID provider of 'acme' did not sign the user in: access_denied "
        "(End-User aborted interaction).",
    )


def test_unverified_email_is_refused(acme: SimpleNamespace) -> None:
    from rbac.models import User

    answer = callback(sign_in("carol", acme.key))
    assert_error(
        answer.status_code, answer.json(), 401, "The provider 'acme' has not verified", prefix=True
    )
    assert not User.objects.filter(email="carol@example.com").exists()


def test_unknown_service_is_a_400(acme: SimpleNamespace) -> None:
    answer = Client().get(f"{SESSION}?service=nope")
    assert_error(
        answer.status_code, answer.json(), 400, "Unknown or inactive OpenID Connect service 'nope'."
    )


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def assert_unavailable(name: str, reason: str) -> None:
    """Starting a sign-in with provider `name` is a 503 that gives `reason`."""
    answer = Client().get(f"{SESSION}?service={name}")
    message = f"The OpenID provider of '{name}' is unavailable: {reason}"
    assert_error(answer.status_code, answer.json(), 503, message, prefix=True)


def test_a_provider_that_is_down_or_silent_is_a_503_with_the_reason(
    acme: SimpleNamespace, silent_port: int
) -> None:
    from rbac.models import OidcProvider

    down = OidcProvider.objects.create(
        name="down", issuer=f"http://127.0.0.1:{oidc_server.free_port()}", client_id="x", timeout=1
    )
    assert_unavailable("down", f"it cannot be reached at {down.issuer}.")
    OidcProvider.objects.create(
        name="silent", issuer=f"http://127.0.0.1:{silent_port}", client_id="x", timeout=1
    )
    assert_unavailable("silent", "it did not answer within 1 seconds.")


# --- tokens straight from the provider, as bearer tokens ------------------------------------


def id_token(idp: oidc_server.OidcServer, user: str, client_id: str = oidc_server.CLIENT_ID) -> str:
    """An ID token the provider issues to `client_id` for `user` (the client's own code flow)."""
    redirect_uri = oidc_server.callback_url(oidc_server.TESTSERVER, "acme")
    with OAuth2Session(
        client_id,
        oidc_server.CLIENT_SECRET,
        scope="openid email profile groups",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    ) as client:
        verifier = "v" * 64
        url, _ = client.create_authorization_url(
            f"{idp.issuer}/auth", code_verifier=verifier, nonce="n-0S6_WzA2Mj"
        )
        landing = oidc_server.sign_in(url, user, oidc_server.USERS[user]).url
        assert landing is not None
        code = parse_qs(urlsplit(landing).query)["code"][0]
        token = client.fetch_token(f"{idp.issuer}/token", code=code, code_verifier=verifier)
    return str(token["id_token"])


@pytest.fixture
def bearer(acme: SimpleNamespace) -> SimpleNamespace:
    acme.provider.accept_bearer_tokens = True
    acme.provider.save()
    return acme


def bearer_get(path: str, token: str, key: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["X-DreamFactory-Api-Key"] = key
    response = Client().get(path, headers=headers)
    return response.status_code, response.json()


def test_a_provider_token_reads_data_on_api_v2_and_rest(bearer: SimpleNamespace) -> None:
    token = id_token(bearer.idp, "alice")
    status, rows = bearer_get(TODO, token, bearer.key)
    assert status == 200, rows
    assert len(rows["resource"]) == COMPLETED  # sales, through the app's mapping
    status, rows = bearer_get(REST_TODO, token, bearer.key)
    assert status == 200, rows
    assert len(rows) == COMPLETED
    status, rows = bearer_get(TODO, id_token(bearer.idp, "bob"))  # no app: the default role
    assert status == 200 and len(rows["resource"]) == ALL


def test_provider_tokens_are_refused_without_accept_bearer_tokens(acme: SimpleNamespace) -> None:
    status, body = bearer_get(TODO, id_token(acme.idp, "alice"), acme.key)
    assert_error(status, body, 401, "Invalid token", prefix=True)


def test_forged_wrong_audience_and_expired_tokens_are_refused(bearer: SimpleNamespace) -> None:
    genuine = jws.extract_compact(id_token(bearer.idp, "alice").encode())
    kid = genuine.headers()["kid"]  # a key of our own, passed off under the provider's kid
    forger = RSAKey.generate_key(2048, parameters={"kid": kid})
    forged = jwt.encode({"alg": "RS256", "kid": kid}, json.loads(genuine.payload), forger)
    status, body = bearer_get(TODO, forged)
    assert_error(status, body, 401, "Invalid token: its signature does not verify", prefix=True)

    status, body = bearer_get(TODO, id_token(bearer.idp, "alice", oidc_server.OTHER_CLIENT_ID))
    assert_error(status, body, 401, "Invalid token: Invalid claim: 'aud'.")

    expired = id_token(bearer.idp, "alice", oidc_server.SHORT_CLIENT_ID)
    bearer.provider.audience = oidc_server.SHORT_CLIENT_ID
    bearer.provider.save()
    bearer.provider.service.save()  # as the admin page does: the metadata stamp moves
    time.sleep(1 + oidc_login.LEEWAY + 1)  # its one-second lifetime, plus the clock-skew leeway
    status, body = bearer_get(TODO, expired)
    assert_error(status, body, 401, "Invalid token: it has expired.")


def test_tokens_signed_after_a_key_rotation_are_accepted(bearer: SimpleNamespace) -> None:
    idp = bearer.idp
    before = id_token(idp, "bob")
    assert bearer_get(TODO, before)[0] == 200  # the gateway now holds the JWKS
    old_kid = idp.kids()[0]
    idp.rotate()
    assert idp.kids()[0] != old_kid and old_kid in idp.kids()
    after = id_token(idp, "bob")
    status, rows = bearer_get(TODO, after)
    assert status == 200, rows
    assert len(rows["resource"]) == ALL


def test_the_provider_down_for_bearer_tokens_is_a_503(bearer: SimpleNamespace) -> None:
    token = id_token(bearer.idp, "bob")
    bearer.idp.stop()
    try:
        status, body = bearer_get(TODO, token)
    finally:
        bearer.idp.start()
    assert_error(status, body, 503, "The OpenID provider of 'acme' is unavailable", prefix=True)


_ = requests  # the IdP's forms are driven with requests (tests/oidc_server.py)


# --- the admin console's "Sign in with" ------------------------------------------------------


@pytest.fixture
def console(acme: SimpleNamespace, admin_user: Any) -> SimpleNamespace:
    from rbac.models import OidcProvider

    acme.admin = OidcProvider.objects.create(
        name="acme_admin",
        label="Acme for admins",
        admin_sign_in=True,
        **acme.idp.client_settings(timeout=2),
    )
    return acme


def admin_sign_in(user: str) -> Client:
    """The console's login page -> the provider's form -> back through DF's callback."""
    browser = Client()
    page = browser.get("/admin/login/")
    assert page.status_code == 200
    assert 'href="/admin/sso/acme_admin/">Sign in with Acme for admins</a>' in page.content.decode()
    assert "/admin/sso/acme/" not in page.content.decode()  # no admin_sign_in there
    started = browser.get("/admin/sso/acme_admin/")
    assert started.status_code == 302, started.content
    landing = oidc_server.sign_in(started["Location"], user, oidc_server.USERS[user]).url
    assert landing is not None
    back = browser.get(landing.removeprefix(oidc_server.TESTSERVER))
    assert back.status_code == 302 and back["Location"].startswith(
        "/admin/sso/acme_admin/callback/?"
    )
    browser.response = browser.get(back["Location"])  # type: ignore[attr-defined]
    return browser


def test_an_admin_signs_in_to_the_console_with_the_provider(console: SimpleNamespace) -> None:
    browser = admin_sign_in("root")
    assert browser.response.status_code == 302  # type: ignore[attr-defined]
    assert browser.response["Location"] == "/admin/"  # type: ignore[attr-defined]
    dashboard = browser.get("/admin/")
    assert dashboard.status_code == 200
    assert "admin@example.com" in dashboard.content.decode()


def test_a_non_admin_gets_the_login_page_with_an_error(console: SimpleNamespace) -> None:
    from rbac.models import User

    browser = admin_sign_in("alice")
    assert browser.response["Location"] == "/admin/login/"  # type: ignore[attr-defined]
    page = browser.get("/admin/login/").content.decode()
    assert "alice@example.com is not an active admin of this console" in page
    assert browser.get("/admin/").status_code == 302  # still signed out
    assert not User.objects.filter(email="alice@example.com").exists()  # nobody is created


def test_the_admin_test_action_reports_discovery(console: SimpleNamespace) -> None:
    from rbac.models import OidcProvider, User

    browser = Client()
    browser.force_login(User.objects.get(email="admin@example.com"))
    url = "/admin/rbac/oidcprovider/"
    OidcProvider.objects.create(
        name="gone", issuer=f"http://127.0.0.1:{oidc_server.free_port()}", client_id="x", timeout=1
    )
    ids = [p.pk for p in OidcProvider.objects.filter(service__name__in=["acme", "gone"])]
    answer = browser.post(
        url, {"action": "test_provider", "_selected_action": ids}, follow=True
    ).content.decode()
    assert f"Acme: discovery at {console.idp.issuer} answers; its JWKS holds" in answer
    assert (
        "Gone: The OpenID provider of &#x27;gone&#x27; is unavailable: it cannot be reached"
        in answer
    )


def test_with_database_roles_the_token_claims_reach_the_policy(
    idp: oidc_server.OidcServer,
    rls_service: Any,  # noqa: F811  (the fixture imported above)
    db_role: str,  # noqa: F811
    pg: Any,
) -> None:
    """Service `shop` with database roles: alice's provider token runs as the mapped role's
    db_role, and the notes policy reads her email from request.jwt.claims."""
    from rbac.models import OidcProvider

    pg.execute("INSERT INTO notes (owner_email, body) VALUES ('alice@example.com', 'alice note')")
    writer = make_role(
        "note readers",
        [{"service": rls_service, "component": "_table/*", "verb_mask": GET}],
        db_role=db_role,
    )
    OidcProvider.objects.create(
        name="acme",
        issuer=idp.issuer,
        client_id=oidc_server.CLIENT_ID,
        accept_bearer_tokens=True,
        role_map=[{"group": "sales", "role_id": writer.pk}],
        timeout=2,
    )
    status, body = bearer_get("/api/v2/shop/_table/notes", id_token(idp, "alice"))
    assert status == 200, body
    assert [row["body"] for row in body["resource"]] == ["alice note"]
    status, body = bearer_get("/rest/shop/notes?select=body", id_token(idp, "alice"))
    assert (status, body) == (200, [{"body": "alice note"}])


def test_provider_tokens_are_for_the_data_api_only(bearer: SimpleNamespace) -> None:
    status, body = bearer_get("/api/v2/system/role", id_token(bearer.idp, "alice"), bearer.key)
    assert_error(
        status,
        body,
        401,
        "A token of provider 'acme' is accepted on the data API only",
        prefix=True,
    )
