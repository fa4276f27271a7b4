"""Config as code (issue #16, item 4): `export_config` / `import_config` and the system API's
`system/package` / `system/import`.

The setup is what an admin builds: two database services and two sign-in providers (LDAP with
a role map per app, OIDC), roles with rules and row filters, an app, a user with a role for
the app, limits, lookups of every owner, a CORS rule. The file must carry it all by name,
import into an empty gateway, and export again to the same bytes.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from core.verbs import ALL_VERBS, GET
from tests.conftest import (
    Api,
    assert_error,
    assign_role,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
)

pytestmark = pytest.mark.django_db

PACKAGE = "/api/v2/system/package"
IMPORT = "/api/v2/system/import"
SECRETS = (
    "db-secret-pw",
    "ldap-bind-secret",
    "oidc-client-secret",
    "saml-private-key",
    "private-lookup-value",
)


def _setup(service: Any) -> None:
    from core.models import CorsRule
    from limits.models import Limit
    from lookups.models import Lookup
    from rbac.models import LdapProvider, OidcProvider, SamlProvider
    from services.models import Service

    reports = Service.objects.create(
        name="reports",
        label="Reporting copy",
        host=service.host,
        port=service.port,
        database=service.database,
        username="reporter",
        password="db-secret-pw",
        is_active=False,
        allow_sql=True,
    )
    owner_filter = [{"name": "owner_id", "operator": "=", "value": "{user.id}"}]
    reader = make_role(
        "reader",
        [
            {"service": service, "component": "_table/*", "verb_mask": GET},
            {
                "service": service,
                "component": "_table/orders",
                "verb_mask": ALL_VERBS,
                "filters": owner_filter,
                "filter_op": "AND",
            },
        ],
        description="Reads the shop",
    )
    analyst = make_role(
        "analyst",
        [
            {"service": reports, "component": "*", "verb_mask": GET},
            {"service": None, "component": "system/role", "verb_mask": GET},
        ],
        db_role="analyst_db",
    )
    app, _ = make_app("mobile", reader)
    alice = make_user("alice@example.com")
    alice.first_name, alice.last_name = "Alice", "Smith"
    alice.save()
    assign_role(alice, app, analyst)
    LdapProvider.objects.create(
        name="corp",
        label="Corporate directory",
        host="ldap.example.com",
        base_dn="dc=example,dc=com",
        bind_dn="cn=reader,dc=example,dc=com",
        bind_password="ldap-bind-secret",
        default_role=reader,
        role_map=[{"group": "cn=analysts", "role_id": analyst.pk}],
        app_role_map={str(app.pk): [{"group": "cn=sales", "role_id": reader.pk}]},
    )
    OidcProvider.objects.create(
        name="acme",
        issuer="https://idp.example.com",
        client_id="gateway",
        client_secret="oidc-client-secret",
        default_role=analyst,
    )
    SamlProvider.objects.create(
        name="okta",
        idp_metadata="https://idp.example.com/metadata.xml",
        sp_private_key="saml-private-key",
        groups_attribute="memberOf",
    )
    Limit.objects.create(name="alice-hourly", type="instance.user", rate=100, period=1, user=alice)
    Limit.objects.create(
        name="shop-orders",
        type="instance.service.endpoint",
        rate=10,
        service=service,
        endpoint="_table/orders",
        verb="POST",
    )
    Lookup.objects.create(name="region", value="eu")
    Lookup.objects.create(name="api_token", value="private-lookup-value", private=True)
    Lookup.objects.create(name="tenant", value="t1", role=reader)
    Lookup.objects.create(name="channel", value="ios", app=app)
    Lookup.objects.create(name="team", value="blue", user=alice)
    CorsRule.objects.create(path="api/v2/*", origin="https://app.example.com", method=GET)


def _wipe() -> None:
    """Everything the file carries, deleted through the ORM (the admin stays)."""
    from apikeys.models import App
    from core.models import CorsRule
    from limits.models import Limit
    from lookups.models import Lookup
    from rbac.models import Role, User
    from services.models import Service

    for model in (CorsRule, Lookup, Limit, App, Role, Service):
        model.objects.all().delete()
    User.objects.filter(is_staff=False).delete()


def _export(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "config.json"
    call_command("export_config", "--output", str(out), *args, stderr=io.StringIO())
    return out.read_text()


def _import(path: Path, *args: str) -> list[str]:
    out = io.StringIO()
    call_command("import_config", str(path), *args, stdout=out)
    return out.getvalue().splitlines()


def _actions(lines: list[str]) -> set[str]:
    return {line.split()[0] for line in lines if not line.startswith("Dry run")}


def test_export_import_export_gives_the_same_file(
    service: Any, admin_user: Any, tmp_path: Path
) -> None:
    from rbac.models import LdapProvider, User

    _setup(service)
    first = _export(tmp_path)
    document = json.loads(first)
    assert [s["name"] for s in document["services"]] == ["acme", "corp", "okta", "reports", "shop"]
    assert [r["name"] for r in document["roles"]] == ["analyst", "reader"]
    assert [u["email"] for u in document["users"]] == ["alice@example.com"]  # no admin
    assert document["users"][0]["app_roles"] == [{"app": "mobile", "role": "analyst"}]
    corp = next(s for s in document["services"] if s["name"] == "corp")["config"]
    assert corp["default_role"] == "reader"
    assert corp["role_map"] == [{"group": "cn=analysts", "role": "analyst"}]
    assert corp["app_role_map"] == {"mobile": [{"group": "cn=sales", "role": "reader"}]}
    for secret in SECRETS:
        assert secret not in first
    assert "api_key" not in first and "password" not in first

    _wipe()
    lines = _import(tmp_path / "config.json")
    assert _actions(lines) == {"created"}
    assert len(lines) == 5 + 2 + 1 + 1 + 2 + 5 + 1
    assert (tmp_path / "config.json").read_text() == first
    second = _export(tmp_path)
    assert second == first

    provider = LdapProvider.objects.get(service__name="corp")
    assert provider.default_role is not None and provider.default_role.name == "reader"
    assert provider.bind_password == ""  # left out: the admin sets it again
    alice = User.objects.get(email="alice@example.com")
    assert not alice.has_usable_password() and alice.last_name == "Smith"


def test_dry_run_changes_nothing_and_a_second_import_changes_nothing(
    service: Any, tmp_path: Path
) -> None:
    from rbac.models import Role

    _setup(service)
    _export(tmp_path)
    _wipe()
    lines = _import(tmp_path / "config.json", "--dry-run")
    assert "created   role reader" in lines
    assert "created   user alice@example.com" in lines
    assert "created   lookup role/reader/tenant" in lines
    assert lines[-1] == "Dry run: nothing was changed."
    assert not Role.objects.exists()

    _import(tmp_path / "config.json")
    again = _import(tmp_path / "config.json")
    assert _actions(again) == {"unchanged"}, again
    assert len(again) == 17


def test_an_edited_file_updates_only_what_changed(service: Any, tmp_path: Path) -> None:
    from rbac.models import Role

    _setup(service)
    document = json.loads(_export(tmp_path))
    reader = next(r for r in document["roles"] if r["name"] == "reader")
    reader["description"] = "Reads the shop, edited"
    reader["rules"] = reader["rules"][:1]
    document["roles"].append({"name": "auditor", "rules": []})
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    lines = _import(path)
    assert "updated   role reader" in lines
    assert "created   role auditor" in lines
    assert "unchanged role analyst" in lines
    assert sum(1 for line in lines if line.startswith("unchanged")) == len(lines) - 2
    assert Role.objects.get(name="reader").accesses.count() == 1


def test_a_file_naming_an_unknown_role_is_refused_and_nothing_is_written(
    service: Any, tmp_path: Path
) -> None:
    from apikeys.models import App
    from rbac.models import Role

    _setup(service)
    document = json.loads(_export(tmp_path))
    document["roles"].append({"name": "newcomer", "description": "x"})
    document["apps"].append({"name": "kiosk", "role": "ghost"})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError) as caught:
        _import(path)
    assert caught.value.returncode == 2
    assert str(caught.value) == (
        "app 'kiosk': role 'ghost' is neither in the file nor in this gateway. Nothing was changed."
    )
    assert not Role.objects.filter(name="newcomer").exists()
    assert not App.objects.filter(name="kiosk").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ('{"services": []}', 'Not a gateway configuration file: expected "format"'),
        (
            '{"format": "pg-gateway-config", "version": 1, "roles": [{"name": "r", "x": 1}]}',
            "role 'r': unknown key(s) x;",
        ),
        (
            '{"format": "pg-gateway-config", "version": 1, '
            '"services": [{"name": "db", "config": {"host": "h", "database": "d", "port": 0}}]}',
            "service 'db': port: Ensure this value is greater than or equal to 1.",
        ),
    ],
)
def test_a_bad_file_is_a_clear_error_with_exit_2(
    db: Any, tmp_path: Path, text: str, message: str
) -> None:
    from services.models import Service

    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CommandError) as caught:
        _import(path)
    assert caught.value.returncode == 2
    assert message in str(caught.value)
    assert not Service.objects.exists()


def test_encrypted_secrets_import_with_the_same_key_only(service: Any, tmp_path: Path) -> None:
    from lookups.models import Lookup
    from rbac.models import LdapProvider, OidcProvider, SamlProvider
    from services.models import Service

    _setup(service)
    text = _export(tmp_path, "--secrets", "encrypted")
    for secret in SECRETS:
        assert secret not in text
    document = json.loads(text)
    reports = next(s for s in document["services"] if s["name"] == "reports")
    assert reports["config"]["password"].startswith("fernet:")
    _wipe()

    with override_settings(GATEWAY_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        with pytest.raises(CommandError) as caught:
            _import(tmp_path / "config.json")
    assert caught.value.returncode == 2
    assert "cannot be decrypted: it was exported by a gateway with another" in str(caught.value)
    assert not Service.objects.exists()

    _import(tmp_path / "config.json")
    assert Service.objects.get(name="reports").password == "db-secret-pw"
    assert LdapProvider.objects.get(service__name="corp").bind_password == "ldap-bind-secret"
    assert OidcProvider.objects.get(service__name="acme").client_secret == "oidc-client-secret"
    assert SamlProvider.objects.get(service__name="okta").sp_private_key == "saml-private-key"
    assert Lookup.objects.get(name="api_token").value == "private-lookup-value"


def test_the_system_api_exports_and_imports_for_admins(
    api: Api, service: Any, tmp_path: Path
) -> None:
    from rbac.models import Role

    _setup(service)
    status, body = api.get(PACKAGE)
    assert status == 200
    assert body == json.loads(_export(tmp_path))
    status, encrypted = api.get(PACKAGE, secrets="encrypted")
    assert status == 200 and encrypted["secrets"] == "encrypted"
    status, error = api.get(PACKAGE, secrets="clear")
    assert_error(status, error, 400, "secrets must be one of omit, encrypted (got 'clear').")

    _wipe()
    status, answer = api.post(IMPORT, body, dry_run="true")
    assert status == 200 and answer["dry_run"] is True
    assert {"kind": "role", "key": "reader", "action": "created"} in answer["resource"]
    assert not Role.objects.exists()
    status, answer = api.post(IMPORT, body)
    assert status == 200
    assert {c["action"] for c in answer["resource"]} == {"created"}
    assert api.get(PACKAGE)[1] == body

    body["limits"][0]["user"] = "nobody@example.com"
    body["roles"].append({"name": "late"})
    status, error = api.post(IMPORT, body)
    assert_error(
        status,
        error,
        400,
        "limit 'alice-hourly': user 'nobody@example.com' is neither in the file nor in this "
        "gateway.",
    )
    assert not Role.objects.filter(name="late").exists()


def test_the_system_api_is_for_admins_only(service: Any, admin_user: Any) -> None:
    from rbac.models import RoleServiceAccess

    role = make_role("sysadmin-ish", [])
    RoleServiceAccess.objects.create(role=role, service=None, component="system/*", verb_mask=31)
    app, key = make_app("console", role)
    make_user("bob@example.com")
    token = login("bob@example.com", "user-password-123", key)

    for path, method in ((PACKAGE, "get"), (IMPORT, "post")):
        status, body = getattr(client_for(), method)(path)
        assert status == 401, body
        assert body["error"]["status_code"] == 401
        status, body = getattr(client_for(api_key=key, token=token), method)(path)
        assert_error(status, body, 403, "You are not authorized to perform this action.")
        # a key alone: no session, as for system/admin (rbac.system_access)
        status, body = getattr(client_for(api_key=key), method)(path)
        assert status == 401, body


HEADER = '{"format": "pg-gateway-config", "version": 1, '


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[]", "A configuration file is a JSON object (as export_config writes it)."),
        (
            HEADER + '"users": [{"email": "admin@example.com", "is_active": false}]}',
            "user 'admin@example.com': is an admin of this gateway; an import never changes "
            "admins.",
        ),
        (
            HEADER + '"roles": [{"name": "r", "rules": [{"component": "_table/t"}]}]}',
            "role 'r': rules[0]: A rule for all services (no service) applies to component '*' "
            "only, or to the system API as 'system/...'; name a service to grant a narrower "
            "component.",
        ),
        (
            HEADER + '"lookups": [{"name": "x", "value": "a"}, {"name": "x", "value": "b"}]}',
            "lookups[1]: lookup 'x' appears twice in the file.",
        ),
        (
            HEADER + '"services": [{"name": "db", "config": {"host": "h", "database": "d", '
            '"port": 1e400}}]}',
            "A configuration file holds no NaN or Infinity and no NUL character in its text.",
        ),
        (
            HEADER + '"services": [{"name": "corp", "type": "ldap", "config": {"host": "h", '
            '"base_dn": "dc=x", "default_role": "ghost"}}]}',
            "service 'corp': config.default_role 'ghost' is neither in the file nor in this "
            "gateway.",
        ),
    ],
)
def test_bad_input_over_the_api_is_a_400_naming_the_record(
    api: Api, admin_user: Any, raw: str, message: str
) -> None:
    from services.models import Service

    status, body = api.post(IMPORT, raw=raw)
    assert_error(status, body, 400, message)
    assert list(Service.objects.values_list("name", flat=True)) == ["shop"]
