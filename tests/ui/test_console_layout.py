"""The console at a laptop's width (1366 px): lists with long values stay within the window
(issue #16: the audit list overflowed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.ui.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "audit"])


def test_the_audit_list_fits_a_laptop_screen(admin_user: Any, page: Any) -> None:
    from audit.models import AuditEvent

    long_path = "_table/customers_with_an_unbreakable_name_" + "x" * 300
    AuditEvent.objects.create(
        time=datetime.now(UTC),
        service="a_service_with_a_long_name",
        verb="PATCH",
        resource=long_path,
        status=200,
        duration_ms=12.5,
        user_email="someone.with.a.long.address@example.com",
        app_name="An app with a long name",
        client="203.0.113.254",
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page)
    page.goto("/admin/audit/auditevent/")
    cell = page.locator("td.field-request span")
    assert cell.get_attribute("title") == f"a_service_with_a_long_name/{long_path}"  # on hover
    assert cell.inner_text().startswith("PATCH a_service_with_a_long_name/_table/")
    assert len(cell.inner_text()) <= len("PATCH ") + 40
    # Django's admin scrolls a too-wide result table inside its box: no scrollbar there either
    overflow = page.evaluate(
        "Math.max(document.documentElement.scrollWidth - window.innerWidth,"
        " ...[...document.querySelectorAll('.results')].map(e => e.scrollWidth - e.clientWidth))"
    )
    assert overflow <= 0, f"the audit list is {overflow} px wider than its box"
