"""The admin console story in a real browser: log in, dashboard, add a service, test its
connection (good, then refused), browse its schema. Saves docs/screenshots/0*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import service_kwargs

pytestmark = pytest.mark.django_db(transaction=True)


def _expect_message(page: Any, level: str, text: str | re.Pattern[str]) -> None:
    """Wait for the message the last click brings (the page before it may still show one)."""
    expect(page.locator(f"ul.messagelist li.{level}", has_text=text)).to_be_visible()


def _table(page: Any, name: str) -> Any:
    caption = page.locator(".table-name", has_text=re.compile(f"^{re.escape(name)}$"))
    return page.locator(".schema-table", has=caption)


def test_admin_console_story(admin_user: Any, seeded: dict[str, Any], page: Any, screenshot: Any):
    from services.models import Service

    kwargs = service_kwargs(seeded)
    Service.objects.create(
        **service_kwargs(seeded, name="legacy", host="db.example.internal", is_active=False)
    )

    # 1. log in
    page.goto("/admin/")
    assert page.title().startswith("Log in | pg-gateway admin")
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "correct-horse-battery")
    screenshot("01-login")
    page.click("input[type=submit]")

    # 2. the dashboard lists the services with their status
    dashboard = page.locator("#dashboard-services")
    assert "pg-gateway admin" in page.locator("#site-name").inner_text()
    assert "legacy" in dashboard.inner_text()
    assert "inactive" in dashboard.inner_text()

    # 3. add a service through the form
    page.goto("/admin/services/service/add/")
    page.fill("#id_name", kwargs["name"])
    page.fill("#id_label", "Shop (fixtures)")
    page.fill("#id_host", kwargs["host"])
    page.fill("#id_port", str(kwargs["port"]))
    page.fill("#id_database", kwargs["database"])
    page.fill("#id_username", kwargs["username"])
    page.fill("#id_password", kwargs["password"])
    page.fill("#id_schema", kwargs["schema"])
    page.select_option("#id_sslmode", kwargs["sslmode"])
    for legend in ("Info", "Connection", "Options"):
        assert page.locator("fieldset h2", has_text=legend).count() == 1
    screenshot("03-service-form")
    # tested before anything is saved: the Add page's own values
    page.click("button.test-connection")
    _expect_message(page, "success", re.compile(r"connection succeeded\. PostgreSQL \d+"))
    assert not Service.objects.filter(name=kwargs["name"]).exists()
    assert page.input_value("#id_password") == kwargs["password"]  # still typed, not lost
    page.click("input[name=_continue]")
    _expect_message(page, "success", "was added successfully")
    assert page.input_value("#id_password") == ""  # write-only: never rendered back

    # 4. test the connection on the form's values, before saving: the server version, then a
    # classified refusal on port 1 with the typed value kept; saving it warns, not blocks
    page.click("button.test-connection")
    _expect_message(page, "success", re.compile(r"connection succeeded\. PostgreSQL \d+"))
    screenshot("04-test-connection")

    page.fill("#id_port", "1")
    page.click("button.test-connection")
    _expect_message(page, "error", "Connection refused")
    assert page.input_value("#id_port") == "1"  # the edit is still there, not saved
    assert Service.objects.get(name="shop").port == kwargs["port"]
    page.click("input[name=_continue]")
    _expect_message(page, "warning", "Saved, but the connection test failed.")

    page.fill("#id_port", str(kwargs["port"]))
    page.click("button.test-connection")
    _expect_message(page, "success", "connection succeeded")
    page.click("input[name=_continue]")
    _expect_message(page, "success", "was changed successfully")

    # 5. the read-only schema view: tables, views and their columns, routines
    page.click("a:text-is('Schema')")
    expect(page).to_have_title(re.compile(r"^Schema of shop"))
    names = page.locator(".table-name").all_inner_texts()
    assert {"customers", "orders", "Table With Space", "MixedCase", "big_orders"} <= set(names)
    assert "other.secret" not in names  # only the service's schema
    assert _table(page, "Table With Space").count() == 1
    assert "Column With Space" in _table(page, "Table With Space").inner_text()
    assert "customers.id" in _table(page, "orders").inner_text()  # a foreign key target
    assert _table(page, "big_orders").locator(".schema-kind").text_content() == "view"
    assert "add_numbers(a integer, b integer)" in page.locator("#routines").inner_text()
    screenshot("05-schema")

    # the dashboard now shows the new active service next to the inactive one
    page.goto("/admin/")
    text = dashboard.inner_text()
    assert "shop" in text
    assert f"{kwargs['host']}:{kwargs['port']}/{kwargs['database']}" in text
    shop = page.locator("tr.service-row[data-service=shop]")
    assert shop.locator(".service-status").inner_text() == "reachable"
    assert re.fullmatch(r"[\d.]+ ms", shop.locator(".service-latency").inner_text())
    assert re.fullmatch(r"\d+ / \d+", shop.locator(".service-pool").inner_text())
    legacy = page.locator("tr.service-row[data-service=legacy]")
    assert legacy.locator(".service-status").inner_text() == "inactive"
    screenshot("02-dashboard")

    assert Service.objects.get(name="shop").port == kwargs["port"]
