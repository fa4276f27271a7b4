"""The per-service Swagger UI page in a real browser: a staff user opens /docs/shop/, tries
GET /_table/todo and gets the fixture rows, with every asset served locally. Saves
docs/screenshots/06-api-docs-try-it-out.png."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import service_kwargs
from tests.ui.conftest import log_in, open_operation, try_it_out

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def test_api_docs_try_it_out(
    admin_user: Any, seeded: dict[str, Any], page: Any, screenshot: Any
) -> None:
    from services.models import Service

    service = Service.objects.create(**service_kwargs(seeded))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    log_in(page)

    # Swagger UI renders /api/v2/api_docs/shop; it virtualises the operations list, so only
    # what is on screen is in the DOM: the deep link scrolls to the operation and opens it
    page.goto("/docs/shop/#/todo/getShopTodo")
    assert page.title() == "API docs: shop"
    operation = open_operation(page, "todo", "getShopTodo")

    # try it out: limit=2, execute, and the live response shows the first fixture rows
    try_it_out(operation, "limit").fill("2")
    operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table tr.response")
    live.wait_for()
    assert live.locator(".response-col_status").inner_text().strip() == "200"
    body = live.locator(".response-col_description pre").first.inner_text()
    assert "test1" in body and "test2" in body
    assert "test3" not in body  # limit=2 reached the server
    request_url = operation.locator(".request-url").inner_text()
    assert re.search(r"/api/v2/shop/_table/todo\?.*limit=2", request_url)
    # the curl line carries the session token: keep it out of the committed screenshot
    page.add_style_tag(content=".curl-command { display: none !important; }")
    live.scroll_into_view_if_needed()
    screenshot("06-api-docs-try-it-out")

    # the dashboard links to the page
    page.goto("/admin/")
    link = page.locator("#dashboard-services a.api-docs-link")
    assert link.count() == 1
    link.click()
    page.wait_for_url("**/docs/shop/")
    assert page.title() == "API docs: shop"
    page.locator(".opblock-tag").first.wait_for()  # the spec loaded and rendered

    # the service's change form and schema page link to it too
    for admin_page in ("change", "schema"):
        page.goto(f"/admin/services/service/{service.pk}/{admin_page}/")
        assert page.locator("a.api-docs-link").get_attribute("href") == "/docs/shop/"

    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts and hosts <= LOCAL_HOSTS, f"requests left localhost: {sorted(hosts)}"
