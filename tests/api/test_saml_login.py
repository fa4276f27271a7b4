"""Sign-in with a SAML 2.0 provider (issue #15, item 3) against a real IdP: Debian's
simplesamlphp (tests/saml_idp.py), started once per test session on a free port.

The login is driven as a browser would: `GET user/saml/acme/sso` (302 to the IdP with a signed
AuthnRequest), the IdP's login form (httpx, real passwords), then its auto-posting form whose
`SAMLResponse` goes to the gateway's ACS. Personas: Alice (groups sales, staff) and Bob (ops).
`sales` maps to a role that reads `shop`'s tables through the "Todo app".
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from html import unescape
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx
import pytest
from django.test import Client

from core.verbs import GET
from tests import saml_idp
from tests.conftest import assert_error, client_for, make_app, make_role
from tests.sso_helpers import assert_alice_signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

BASE = "/api/v2/user/saml"
TODO = "/api/v2/shop/_table/todo"
ALICE_PASSWORD = saml_idp.USERS["alice"][0]
REFUSED = "The SAML response was refused: "


@pytest.fixture(scope="session")
def idp() -> Iterator[saml_idp.Idp]:
    with saml_idp.start_idp() as server:
        yield server


@pytest.fixture(scope="session")
def sp_keys() -> tuple[str, str]:
    return saml_idp.keypair("gateway-sp.test")


def make_provider(idp: saml_idp.Idp, sp_keys: tuple[str, str], name: str, **fields: Any) -> Any:
    """A SAML provider the IdP trusts (its SP metadata, as served, handed to the IdP)."""
    from rbac.models import SamlProvider

    cert, key = sp_keys
    fields.setdefault("idp_metadata", idp.metadata_url)
    provider = SamlProvider.objects.create(
        name=name, label=f"{name} SAML", sp_certificate=cert, sp_private_key=key, **fields
    )
    response = Client().get(f"{BASE}/{name}/metadata")
    assert response.status_code == 200, response.content
    idp.trust(response.content.decode())
    return provider


@pytest.fixture
def acme(idp: saml_idp.Idp, sp_keys: tuple[str, str], service: Any) -> SimpleNamespace:
    sales = make_role("sales", [{"service": service, "component": "_table/*", "verb_mask": GET}])
    ops = make_role("ops", [])
    app, key = make_app("Todo app")
    provider = make_provider(
        idp,
        sp_keys,
        "acme",
        default_role=ops,
        role_map=[{"group": "sales", "role_id": sales.pk}],
    )
    return SimpleNamespace(provider=provider, sales=sales, ops=ops, app=app, key=key, idp=idp)


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The action and the named inputs of the page's first form."""
    action = re.search(r'<form[^>]*action="([^"]*)"', html)
    assert action is not None, html[:2000]
    fields = {
        unescape(m.group(1)): unescape(m.group(2))
        for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)
    }
    return unescape(action.group(1)), fields


def idp_login(
    name: str, username: str, password: str, key: str | None = None, *, key_in_query: bool = False
) -> str | None:
    """Start the sign-in at the gateway and log in at the IdP: the SAMLResponse it posts to
    the ACS (None when the IdP refuses the login). The app's key goes in the header, or in
    `?api_key=` as a browser link would carry it."""
    headers = {"X-DreamFactory-Api-Key": key} if key and not key_in_query else {}
    query_string = f"?{urlencode({'api_key': key})}" if key and key_in_query else ""
    start = Client().get(f"{BASE}/{name}/sso{query_string}", headers=headers)
    assert start.status_code == 302, start.content
    assert start["Cache-Control"] == "no-store"
    query = parse_qs(urlparse(start["Location"]).query)
    assert {"SAMLRequest", "SigAlg", "Signature"} <= set(query)  # a signed AuthnRequest
    return browser_login(start["Location"], name, username, password)


def browser_login(url: str, name: str, username: str, password: str) -> str | None:
    """Follow `url` at the IdP, fill its login form: the SAMLResponse (None if refused)."""
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text[:2000]
        action, fields = _form(page.text)
        fields.update(username=username, password=password)
        answer = browser.post(urljoin(str(page.url), action), data=fields)
    if "SAMLResponse" not in answer.text:
        return None
    action, fields = _form(answer.text)
    assert action.endswith(f"{BASE}/{name}/acs"), action
    return fields["SAMLResponse"]


def post_acs(name: str, saml_response: str) -> tuple[int, Any]:
    """A cross-site POST from the IdP's page: no CSRF token, and none needed."""
    response = Client(enforce_csrf_checks=True).post(
        f"{BASE}/{name}/acs", {"SAMLResponse": saml_response}
    )
    assert response["Content-Type"].startswith("application/json"), response.content
    return response.status_code, response.json()


def edit(saml_response: str, change: Any) -> str:
    """The response decoded, changed by `change(xml) -> xml`, and base64-encoded again."""
    xml = base64.b64decode(saml_response).decode()
    changed = change(xml)
    assert changed != xml
    return base64.b64encode(changed.encode()).decode()


def test_login_maps_attributes_and_reads_data(
    acme: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    from rbac.models import SignInState

    caplog.set_level(logging.DEBUG)
    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key)
    assert saml_response is not None
    status, body = post_acs("acme", saml_response)
    assert status == 200, body
    assert_alice_signed_in(body, "saml:acme", acme.sales, acme.app)
    assert not SignInState.objects.exists()  # used once
    status, rows = client_for(acme.key, body["session_token"]).get(TODO)
    assert status == 200 and len(rows["resource"]) == 5
    assert "PRIVATE KEY" not in caplog.text and ALICE_PASSWORD not in caplog.text


def test_unmapped_groups_get_the_default_role(acme: SimpleNamespace) -> None:
    saml_response = idp_login("acme", "bob", saml_idp.USERS["bob"][0], acme.key)
    assert saml_response is not None
    status, body = post_acs("acme", saml_response)
    assert status == 200 and body["role"] == "ops", body
    status, rows = client_for(acme.key, body["session_token"]).get(TODO)
    assert status == 403, rows


def test_redirect_url_gets_the_session_token(acme: SimpleNamespace) -> None:
    acme.provider.redirect_url = "https://app.example.com/signed-in?from=saml"
    acme.provider.save()
    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key, key_in_query=True)
    assert saml_response is not None
    response = Client().post(f"{BASE}/acme/acs", {"SAMLResponse": saml_response})
    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert target.netloc == "app.example.com" and target.path == "/signed-in"
    assert parse_qs(target.query)["from"] == ["saml"]
    token = parse_qs(target.query)["session_token"][0]
    status, rows = client_for(acme.key, token).get(TODO)  # the app's role: sales
    assert status == 200, rows


def test_a_user_without_email_is_refused(acme: SimpleNamespace) -> None:
    from rbac.models import User

    saml_response = idp_login("acme", "nomail", saml_idp.USERS["nomail"][0], acme.key)
    assert saml_response is not None
    status, body = post_acs("acme", saml_response)
    message = "The provider 'acme' did not say the user's email address; "
    assert_error(status, body, 401, message + "the gateway links users by email.")
    assert not User.objects.exists()


def test_wrong_password_at_the_idp_gives_no_response(acme: SimpleNamespace) -> None:
    from rbac.models import User

    assert idp_login("acme", "alice", "not-her-password", acme.key) is None
    assert not User.objects.filter(email="alice@example.com").exists()


def test_tampered_response_is_refused_and_writes_nothing(acme: SimpleNamespace) -> None:
    from rbac.models import SignInState, User

    saml_response = idp_login("acme", "bob", saml_idp.USERS["bob"][0], acme.key)
    assert saml_response is not None
    forged = edit(saml_response, lambda xml: xml.replace(">ops<", ">sales<"))
    altered = REFUSED + "its signature does not verify (it was altered or signed by another key)."
    assert_error(*post_acs("acme", forged), 401, altered)
    forged = edit(saml_response, lambda xml: xml.replace("bob@example.com", "eve@example.com"))
    assert_error(*post_acs("acme", forged), 401, altered)
    assert not User.objects.exists()
    assert SignInState.objects.count() == 1  # a forgery does not use up the real sign-in
    status, body = post_acs("acme", saml_response)
    assert status == 200 and body["role"] == "ops", body


def test_unsigned_response_is_refused(acme: SimpleNamespace) -> None:
    from rbac.models import User

    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key)
    assert saml_response is not None
    unsigned = edit(
        saml_response, lambda xml: re.sub(r"<ds:Signature.*?</ds:Signature>", "", xml, flags=re.S)
    )
    status, body = post_acs("acme", unsigned)
    message = "it is not signed as required (the Response and the Assertion must be signed)."
    assert_error(status, body, 401, REFUSED + message)
    # only the Response's own signature removed (the Assertion's stays): refused too
    outer_unsigned = edit(
        saml_response,
        lambda xml: re.sub(r"<ds:Signature.*?</ds:Signature>", "", xml, count=1, flags=re.S),
    )
    assert "<ds:Signature" in base64.b64decode(outer_unsigned).decode()
    assert_error(*post_acs("acme", outer_unsigned), 401, REFUSED + message)
    assert not User.objects.exists()


def test_a_sign_in_older_than_ten_minutes_is_refused(acme: SimpleNamespace) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from rbac.models import SignInState, User

    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key)
    assert saml_response is not None
    SignInState.objects.update(created=timezone.now() - timedelta(minutes=11))
    status, body = post_acs("acme", saml_response)
    assert_error(
        status, body, 401, REFUSED + "The sign-in took longer than 10 minutes", prefix=True
    )
    assert not User.objects.exists() and not SignInState.objects.exists()


def test_replayed_response_is_refused(acme: SimpleNamespace) -> None:
    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key)
    assert saml_response is not None
    assert post_acs("acme", saml_response)[0] == 200
    status, body = post_acs("acme", saml_response)
    assert_error(
        status,
        body,
        401,
        REFUSED + "it does not answer a sign-in started here, or was already used.",
    )


def test_idp_initiated_response_is_refused(acme: SimpleNamespace) -> None:
    from rbac.models import User

    entity_id = "http://testserver/api/v2/user/saml/acme/metadata"
    url = f"{acme.idp.url}/saml2/idp/SSOService.php?{urlencode({'spentityid': entity_id})}"
    saml_response = browser_login(url, "acme", "alice", ALICE_PASSWORD)
    assert saml_response is not None
    assert "InResponseTo" not in base64.b64decode(saml_response).decode()
    status, body = post_acs("acme", saml_response)
    message = "it does not answer a sign-in started here, or was already used."
    assert_error(status, body, 401, REFUSED + message)
    assert not User.objects.exists()


def test_response_for_another_sp_is_refused(
    acme: SimpleNamespace, sp_keys: tuple[str, str]
) -> None:
    make_provider(acme.idp, sp_keys, "other")
    saml_response = idp_login("acme", "alice", ALICE_PASSWORD, acme.key)
    assert saml_response is not None
    status, body = post_acs("other", saml_response)  # audience and destination are acme's
    message = "it was sent to another assertion consumer (destination)."
    assert_error(status, body, 401, REFUSED + message)
    assert post_acs("acme", saml_response)[0] == 200


def test_bad_posts_to_the_acs_are_4xx(acme: SimpleNamespace) -> None:
    assert_error(
        *post_acs("acme", ""), 400, "The assertion consumer needs the 'SAMLResponse' form field."
    )
    garbage = base64.b64encode(b"<not-saml/>").decode()
    assert_error(*post_acs("acme", garbage), 400, "'SAMLResponse' is not a SAML response.")
    status, body = post_acs("nobody", garbage)
    assert_error(status, body, 404, "There is no active SAML provider named 'nobody'.")


def test_sp_metadata_is_stable_and_parses(acme: SimpleNamespace) -> None:
    from saml2.mdstore import InMemoryMetaData

    first = Client().get(f"{BASE}/acme/metadata")
    second = Client().get(f"{BASE}/acme/metadata")
    assert first.status_code == 200 and first["Content-Type"] == "application/samlmetadata+xml"
    assert first.content == second.content
    metadata = InMemoryMetaData(None, first.content.decode())
    metadata.load()
    entity_id = "http://testserver/api/v2/user/saml/acme/metadata"
    sp = metadata[entity_id]["spsso_descriptor"][0]
    assert sp["authn_requests_signed"] == "true" and sp["want_assertions_signed"] == "true"
    acs = sp["assertion_consumer_service"][0]["location"]
    assert acs == "http://testserver/api/v2/user/saml/acme/acs"
    assert "PRIVATE KEY" not in first.content.decode()


def test_idp_metadata_garbage_or_down_is_503(acme: SimpleNamespace) -> None:
    acme.provider.idp_metadata = "<EntityDescriptor this is not xml"
    acme.provider.save()
    response = Client().get(f"{BASE}/acme/sso")
    error = assert_error(
        response.status_code,
        response.json(),
        503,
        "SAML sign-in with 'acme' is unavailable: its metadata (idp_metadata)",
        prefix=True,
    )
    assert "does not parse" in error["message"]
    acme.provider.idp_metadata = f"http://127.0.0.1:{saml_idp.free_port()}/metadata"
    acme.provider.save()
    response = Client().get(f"{BASE}/acme/sso")
    error = assert_error(response.status_code, response.json(), 503, "SAML sign-in", prefix=True)
    assert "its metadata URL cannot be reached" in error["message"]


def test_sp_keys_that_do_not_load_are_503(acme: SimpleNamespace) -> None:
    acme.provider.sp_private_key = "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----"
    acme.provider.save()
    response = Client().get(f"{BASE}/acme/sso")
    error = assert_error(response.status_code, response.json(), 503, "SAML sign-in", prefix=True)
    assert "sp_private_key" in error["message"] and "garbage" not in error["message"]
    acme.provider.sp_certificate = "not a certificate"
    acme.provider.save()
    response = Client().get(f"{BASE}/acme/metadata")
    message = "SAML sign-in with 'acme' is unavailable: the SP's sp_certificate does not load "
    message += "(PEM expected)."
    assert_error(response.status_code, response.json(), 503, message)


def test_idp_metadata_as_xml_works_too(acme: SimpleNamespace) -> None:
    acme.provider.idp_metadata = httpx.get(acme.idp.metadata_url, timeout=5).text
    acme.provider.save()
    saml_response = idp_login("acme", "alice", ALICE_PASSWORD)
    assert saml_response is not None
    status, body = post_acs("acme", saml_response)
    assert status == 200 and "role" not in body, body  # no app: no role


def test_admin_page_masks_the_key_and_tests_the_metadata(
    acme: SimpleNamespace, admin_user: Any, sp_keys: tuple[str, str]
) -> None:
    staff = Client()
    staff.force_login(admin_user)
    page = staff.get(f"/admin/rbac/samlprovider/{acme.provider.pk}/change/").content.decode()
    assert "acme SAML" in page and "PRIVATE KEY" not in page

    def test_action() -> str:
        response = staff.post(
            "/admin/rbac/samlprovider/",
            {"action": "test_provider", "_selected_action": [acme.provider.pk]},
            follow=True,
        )
        return unescape(response.content.decode())

    text = test_action()
    assert f"entity ID {acme.idp.entity_id}" in text
    assert f"sign-on URL {acme.idp.url}/saml2/idp/SSOService.php" in text
    acme.provider.idp_metadata = "not metadata at all"
    acme.provider.save()
    assert "its metadata (idp_metadata) does not parse" in test_action()
