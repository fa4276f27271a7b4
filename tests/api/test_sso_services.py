"""Sign-in providers are `system/service` records (issue #15): types ldap, adldap, oidc and
saml, in DreamFactory's record shape (`type` + `config`), with write-only secrets, beside the
database services and sharing their names and ids, but with no data API. An LDAP provider
created through the system API signs a user in against a real slapd."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests import ldap_server
from tests.conftest import assert_error, client_for, make_app, make_role

pytestmark = pytest.mark.django_db

SERVICES = "/api/v2/system/service"
MASK = "**********"


@pytest.fixture(scope="module")
def slapd() -> Iterator[ldap_server.Slapd]:
    with ldap_server.start_slapd() as server:
        yield server


def ldap_record(port: int, **config: Any) -> dict[str, Any]:
    return {
        "name": "corp",
        "label": "Corporate directory",
        "type": "ldap",
        "config": {
            "host": "127.0.0.1",
            "port": port,
            "base_dn": ldap_server.SUFFIX,
            "bind_dn": ldap_server.BIND_DN,
            "bind_password": ldap_server.BIND_PASSWORD,
            "timeout": 2,
            **config,
        },
    }


def test_service_types_list_the_provider_types(admin_token: str) -> None:
    api = client_for(token=admin_token)
    status, body = api.get("/api/v2/system/service_type", as_list="true")
    assert status == 200 and body["resource"] == ["pgsql", "ldap", "adldap", "oidc", "saml"]
    status, ldap = api.get("/api/v2/system/service_type/ldap")
    assert status == 200 and ldap["group"] == "LDAP"
    schema = {entry["name"]: entry for entry in ldap["config_schema"]}
    assert schema["bind_password"]["type"] == "password"
    assert schema["host"]["required"] and schema["base_dn"]["required"]
    assert not schema["bind_dn"]["required"]
    status, oidc = api.get("/api/v2/system/service_type/oidc")
    assert status == 200 and {"issuer", "client_id", "client_secret"} <= {
        e["name"] for e in oidc["config_schema"]
    }


def test_a_provider_record_round_trips_with_its_secret_masked(
    admin_token: str, service: Any
) -> None:
    from rbac.models import LdapProvider

    role = make_role("staff", [])
    api = client_for(token=admin_token)
    record = ldap_record(
        3890, default_role=role.pk, role_map=[{"group": "ops", "role_id": role.pk}]
    )
    status, created = api.post(SERVICES, {"resource": [record]}, fields="*")
    assert status == 201, created
    answer = created["resource"][0]
    assert answer["type"] == "ldap" and answer["name"] == "corp"
    assert answer["config"]["bind_password"] == MASK
    assert answer["config"]["default_role"] == role.pk
    assert ldap_server.BIND_PASSWORD not in str(created)
    provider = LdapProvider.objects.get(pk=answer["id"])
    assert str(provider.bind_password) == ldap_server.BIND_PASSWORD  # stored, encrypted at rest

    # the mask written back keeps the secret; other keys change
    status, patched = api.patch(
        f"{SERVICES}/{answer['id']}", {"config": {"bind_password": MASK, "port": 3891}}
    )
    assert status == 200, patched
    provider.refresh_from_db()
    assert provider.port == 3891 and str(provider.bind_password) == ldap_server.BIND_PASSWORD

    # listed beside the database service, each in its own shape
    status, listed = api.get(SERVICES, fields="name,type,config")
    by_name = {r["name"]: r for r in listed["resource"]}
    assert by_name["shop"]["type"] == "pgsql" and "database" in by_name["shop"]["config"]
    assert by_name["corp"]["config"]["base_dn"] == ldap_server.SUFFIX

    # no data API, no API docs, and the directory names its type
    status, body = api.get("/api/v2/corp/_table/users")
    assert status == 404, body
    status, docs = api.get("/api/v2/api_docs")
    assert "corp" not in {d["name"] for d in docs["resource"]}
    status, directory = api.get("/api/v2")
    assert {"name": "corp", "type": "ldap"}.items() <= {
        k: v for s in directory["services"] if s["name"] == "corp" for k, v in s.items()
    }.items()

    status, deleted = api.delete(f"{SERVICES}/{answer['id']}")
    assert status == 200, deleted
    assert not LdapProvider.objects.filter(pk=answer["id"]).exists()


def test_bad_provider_records_are_400_and_write_nothing(admin_token: str, service: Any) -> None:
    from services.models import Service

    api = client_for(token=admin_token)
    cases = [
        ({**ldap_record(389), "type": "kerberos"}, "Service type 'kerberos' is not supported"),
        (
            {**ldap_record(389), "config": {"port": 389, "base_dn": "dc=x"}},
            "Invalid provider settings: host",
        ),
        (ldap_record(389, colour="blue"), "Unknown config key(s) colour for a ldap service"),
        (ldap_record(389, default_role=999999), "default_role: role with id '999999'"),
        (ldap_record(389, role_map={"group": "x"}), "role_map must be a list"),
        ({**ldap_record(389), "name": "shop"}, "name:"),
        ({**ldap_record(389), "name": "Bad Name"}, "name:"),
    ]
    for record, message in cases:
        status, body = api.post(SERVICES, {"resource": [record]})
        assert status == 400, (record, body)
        assert message in str(body), (message, body)
    assert list(Service.objects.values_list("name", flat=True)) == ["shop"]

    status, body = api.patch(f"{SERVICES}/{service.pk}", {"type": "ldap"})
    assert_error(status, body, 400, "A service's type cannot change", prefix=True)


def test_a_provider_made_through_the_api_signs_users_in(
    admin_token: str, service: Any, slapd: ldap_server.Slapd
) -> None:
    from core.verbs import GET

    sales = make_role("sales", [{"service": service, "component": "_table/*", "verb_mask": GET}])
    app, key = make_app("Todo app")
    api = client_for(token=admin_token)
    record = ldap_record(
        slapd.port, role_map=[{"group": f"cn=sales,{ldap_server.GROUPS}", "role_id": sales.pk}]
    )
    status, created = api.post(SERVICES, {"resource": [record]})
    assert status == 201, created
    provider_id = created["resource"][0]["id"]
    status, tested = api.post(f"{SERVICES}/{provider_id}/_test", {})
    assert status == 200 and tested["success"], tested
    assert "binds" in tested["message"]

    status, environment = client_for().get("/api/v2/system/environment")
    assert [p["name"] for p in environment["authentication"]["ldap"]] == ["corp"]

    password = ldap_server.USERS["alice"][0]
    status, session = client_for(api_key=key).post(
        "/api/v2/user/session", {"username": "alice", "password": password, "service": "corp"}
    )
    assert status == 200, session
    status, rows = client_for(api_key=key, token=session["session_token"]).get(
        "/api/v2/shop/_table/todo"
    )
    assert status == 200 and "resource" in rows, rows

    # deactivated through the API: no sign-in, and no longer listed
    api.patch(f"{SERVICES}/{provider_id}", {"is_active": False})
    status, body = client_for(api_key=key).post(
        "/api/v2/user/session", {"username": "alice", "password": password, "service": "corp"}
    )
    assert_error(status, body, 400, "Unknown or inactive login service 'corp'.")


def test_an_adldap_provider_finds_users_with_its_default_filter(
    admin_token: str, service: Any, slapd: ldap_server.Slapd
) -> None:
    """No Active Directory here: slapd stands in. AD's default filter names sAMAccountName and
    userPrincipalName, which slapd does not know (undefined, so false), and mail, which
    matches: a user signs in by email through an `adldap` service; `source` says so."""
    record = {**ldap_record(slapd.port), "name": "ad", "type": "adldap"}
    status, created = client_for(token=admin_token).post(SERVICES, {"resource": [record]})
    assert status == 201, created
    alice = ldap_server.USERS["alice"]
    status, session = client_for().post(
        "/api/v2/user/session", {"email": alice[1], "password": alice[0], "service": "ad"}
    )
    assert status == 200, session
    assert session["email"] == alice[1]
    status, users = client_for(token=admin_token).get("/api/v2/system/user", fields="email,source")
    assert {"email": alice[1], "source": "adldap:ad"} in users["resource"]
    status, body = client_for().post(
        "/api/v2/user/session", {"email": alice[1], "password": "wrong", "service": "ad"}
    )
    assert_error(status, body, 401, "Invalid credentials supplied.")
