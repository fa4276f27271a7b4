"""manage.py create_service / list_services: rows written, validation errors, no password shown."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from services.models import Service

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Pa55word"
BASE = ("--host", "db.internal", "--database", "shop", "--username", "app")


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out, **options)
    return out.getvalue()


def test_create_with_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DB_PASSWORD", SECRET)
    out = run(
        "create_service", "shop", *BASE, "--port", "6543", "--password-env", "SHOP_DB_PASSWORD"
    )
    service = Service.objects.get(name="shop")
    assert (service.host, service.port, service.database, service.username) == (
        "db.internal",
        6543,
        "shop",
        "app",
    )
    assert service.password == SECRET
    assert (service.schema, service.sslmode, service.label, service.is_active) == (
        "public",
        "prefer",
        "shop",
        True,
    )
    assert "Created service 'shop'" in out and "db.internal:6543/shop" in out
    assert SECRET not in out


def test_create_with_password_from_stdin_and_all_options() -> None:
    out = run(
        "create_service",
        "crm",
        *BASE,
        "--password-stdin",
        "--schema",
        "sales",
        "--sslmode",
        "require",
        "--label",
        "CRM",
        "--max-records",
        "250",
        "--inactive",
        stdin=io.StringIO(SECRET + "\n"),
    )
    service = Service.objects.get(name="crm")
    assert service.password == SECRET
    assert (service.schema, service.sslmode, service.label) == ("sales", "require", "CRM")
    assert service.max_records == 250 and service.is_active is False
    assert SECRET not in out


def test_create_without_password_leaves_it_empty() -> None:
    run("create_service", "trusty", *BASE)
    assert Service.objects.get(name="trusty").password == ""


def test_update_changes_given_fields_and_keeps_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PW", SECRET)
    run("create_service", "shop", *BASE, "--password-env", "PW")
    out = run("create_service", "shop", "--update", "--port", "5433", "--inactive")
    service = Service.objects.get(name="shop")
    assert service.port == 5433 and service.is_active is False
    assert service.host == "db.internal" and service.password == SECRET
    assert "Updated service 'shop'" in out and SECRET not in out

    run(
        "create_service",
        "shop",
        "--update",
        "--active",
        "--password-stdin",
        stdin=io.StringIO("new"),
    )
    service.refresh_from_db()
    assert service.is_active is True and service.password == "new"
    assert Service.objects.count() == 1


def test_existing_name_needs_update() -> None:
    run("create_service", "shop", *BASE)
    with pytest.raises(CommandError, match="already exists; pass --update"):
        run("create_service", "shop", *BASE)


def test_update_of_unknown_service_fails() -> None:
    with pytest.raises(CommandError, match="No service named 'ghost'"):
        run("create_service", "ghost", "--update", "--port", "5433")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Bad-Name", *BASE), "name: Service name should only contain"),
        (("system", *BASE), "name: Service name 'system' is reserved"),
        (("shop", *BASE, "--port", "70000"), "port: Ensure this value is less than or equal"),
        (("shop", "--host", "h", "--database", "d"), "Missing --username"),
        (("shop", "--database", "d", "--username", "u"), "Missing --host"),
        (("shop", *BASE, "--sslmode", "sometimes"), "invalid choice: 'sometimes'"),
        (("shop", *BASE, "--password", SECRET), "Passwords are not taken as arguments"),
        (("shop", *BASE, f"--password={SECRET}"), "use --password-env VAR or --password-stdin"),
        (("shop", *BASE, "--password-env", "NOT_SET_ANYWHERE_42"), "NOT_SET_ANYWHERE_42 is not"),
        (("shop", *BASE, "--password-env", "X", "--password-stdin"), "not allowed with"),
    ],
)
def test_validation_errors_are_command_errors(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message) as caught:
        run("create_service", *args)
    assert SECRET not in str(caught.value)
    assert not Service.objects.exists()


def test_empty_stdin_is_an_error() -> None:
    with pytest.raises(CommandError, match="nothing to read"):
        run("create_service", "shop", *BASE, "--password-stdin", stdin=io.StringIO(""))


def test_list_services_table_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("list_services").strip() == "No services registered."
    assert json.loads(run("list_services", "--json")) == []

    monkeypatch.setenv("PW", SECRET)
    run("create_service", "shop", *BASE, "--password-env", "PW", "--label", "Shop")
    run("create_service", "archive", *BASE, "--port", "5433", "--schema", "old", "--inactive")

    table = run("list_services")
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "LABEL", "ACTIVE", "DATABASE", "SCHEMA"]
    assert lines[1].split() == ["archive", "archive", "no", "db.internal:5433/shop", "old"]
    assert lines[2].split() == ["shop", "Shop", "yes", "db.internal:5432/shop", "public"]
    assert SECRET not in table

    raw = run("list_services", "--json")
    records = json.loads(raw)
    assert [r["name"] for r in records] == ["archive", "shop"]
    assert records[1] == {
        "id": records[1]["id"],
        "name": "shop",
        "label": "Shop",
        "is_active": True,
        "host": "db.internal",
        "port": 5432,
        "database": "shop",
        "schema": "public",
    }
    assert SECRET not in raw and "password" not in raw
