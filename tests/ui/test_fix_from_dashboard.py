"""The third persona story of issue #16: an admin sees a broken service on the dashboard, opens
it from there, tests a fix on the form before saving, saves, and the dashboard shows it
reachable again. Saves docs/screenshots/13-14*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import service_kwargs
from tests.ui.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_fixes_a_broken_service_from_the_dashboard(
    admin_user: Any, seeded: dict[str, Any], page: Any, screenshot: Any
) -> None:
    from services.models import Service

    right = service_kwargs(seeded)
    broken = Service.objects.create(**{**right, "port": 1})  # someone typed the wrong port
    log_in(page)

    # the dashboard says what is wrong, without opening anything
    row = page.locator("tr.service-row[data-service=shop]")
    expect(row.locator(".service-status")).to_have_text("unreachable")
    expect(row.locator(".service-error")).to_contain_text("Connection refused")
    screenshot("13-dashboard-broken-service")

    # open it from the dashboard, try the fix on the form, then save it
    row.locator("th a").click()
    expect(page).to_have_url(re.compile(rf"/admin/services/service/{broken.pk}/change/$"))
    page.fill("#id_port", str(right["port"]))
    page.click("button.test-connection")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("connection succeeded")
    assert Service.objects.get(pk=broken.pk).port == 1  # tested, not saved yet
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was changed successfully")
    assert page.locator("ul.messagelist li.warning").count() == 0  # the save's test passed

    page.goto("/admin/")
    expect(row.locator(".service-status")).to_have_text("reachable")
    expect(row.locator(".service-latency")).to_have_text(re.compile(r"^[\d.]+ ms$"))
    screenshot("14-dashboard-fixed")
    assert Service.objects.get(pk=broken.pk).port == right["port"]
