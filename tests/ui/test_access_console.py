"""The access story in a real browser (issues #3 and #4): an admin creates a role with an access
rule, an app whose key is shown once, and a user with a role for that app, then opens the
service's API docs and tries it out with the key. Saves docs/screenshots/07-10*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tests.conftest import service_kwargs
from tests.ui.conftest import log_in, open_operation, try_it_out

pytestmark = pytest.mark.django_db(transaction=True)


def _success(page: Any) -> str:
    return str(page.locator("ul.messagelist li.success").first.inner_text())


def _key_status(key: str, path: str = "/api/v2/shop/_table/todo") -> int:
    return Client().get(path, headers={"X-DreamFactory-Api-Key": key}).status_code


def test_roles_apps_users_and_api_docs_with_a_key(
    admin_user: Any, seeded: dict[str, Any], page: Any, screenshot: Any
) -> None:
    from apikeys.models import App
    from rbac.models import Role, UserAppRole
    from services.models import Service

    Service.objects.create(**service_kwargs(seeded))
    log_in(page)

    # 1. a role that may GET every table of `shop`
    page.goto("/admin/rbac/role/add/")
    page.fill("#id_name", "shop read-only")
    page.fill("#id_description", "Dashboards: read every table")
    page.select_option("#id_accesses-0-service", label="shop")
    # the component picker offers the chosen service's tables and routines
    component = page.locator("#id_accesses-0-component")
    component.focus()
    offered = page.locator(f"datalist#{component.get_attribute('list')} option")
    choices = offered.evaluate_all("options => options.map(o => o.value)")
    assert {"*", "_table/*", "_table/customers", "_func/add_numbers"} <= set(choices)
    page.fill("#id_accesses-0-component", "_table/*")
    row = page.locator("#accesses-0")
    row.locator("input[value=GET]").check()
    for verb in ("POST", "PUT", "PATCH", "DELETE"):
        assert not row.locator(f"input[value={verb}]").is_checked()
    screenshot("07-role-with-rule")
    page.click("input[name=_save]")
    assert "was added successfully" in _success(page)
    role = Role.objects.get(name="shop read-only")
    rule = role.accesses.get()
    assert (rule.component, rule.verb_mask, rule.service.name) == ("_table/*", 1, "shop")

    # a bad row filter is refused with the reason, and nothing is saved
    page.goto(f"/admin/rbac/role/{role.pk}/change/")
    page.fill("#id_accesses-0-filters", '[{"name": "id", "operator": "~~", "value": "1"}]')
    page.click("input[name=_continue]")
    assert "unknown operator" in page.locator(".errorlist").first.inner_text()
    assert role.accesses.get().filters == []

    # 2. an app with that role: the key is shown once, on the answer to the save
    page.goto("/admin/apikeys/app/add/")
    page.fill("#id_name", "Analytics dashboard")
    page.select_option("#id_role", label="shop read-only")
    page.click("input[name=_save]")
    key = page.input_value("#api-key")
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert "shown only this once" in page.locator(".api-key-warning").inner_text()
    page.add_style_tag(content="#api-key { filter: blur(5px); }")  # no key in the screenshot
    screenshot("08-app-key-shown-once")
    app = App.objects.get(name="Analytics dashboard")
    assert app.api_key_prefix == key[:8] and key not in app.api_key_digest
    assert _key_status(key) == 200

    # the change page shows the prefix only; regenerating replaces the key at once
    page.goto(f"/admin/apikeys/app/{app.pk}/change/")
    assert key not in page.content()
    assert key[:8] in page.locator(".field-api_key_prefix").inner_text()
    page.click("a.regenerate-key")
    page.click("#confirm-regenerate")
    new_key = page.input_value("#api-key")
    assert new_key != key
    assert (_key_status(key), _key_status(new_key)) == (401, 200)

    # 3. a user with a role for the app
    page.goto("/admin/rbac/user/add/")
    page.fill("#id_email", "jane@example.com")
    page.fill("#id_password1", "a-long-passphrase-9")
    page.fill("#id_password2", "a-long-passphrase-9")
    page.click("input[name=_continue]")
    page.select_option("#id_app_roles-0-app", label="Analytics dashboard")
    page.select_option("#id_app_roles-0-role", label="shop read-only")
    screenshot("09-user-role-for-app")
    page.click("input[name=_continue]")
    assert "was changed successfully" in _success(page)
    link = UserAppRole.objects.get(user__email="jane@example.com")
    assert (link.app_id, link.role_id) == (app.pk, role.pk)
    response = Client().post(
        "/api/v2/user/session",
        data={"email": "jane@example.com", "password": "a-long-passphrase-9"},
        content_type="application/json",
        headers={"X-DreamFactory-Api-Key": new_key},
    )
    assert (response.status_code, response.json()["role"]) == (200, "shop read-only")

    # 4. the API docs, tried out with the app's key: its role's rows, not the admin's powers
    page.goto("/docs/shop/#/todo/getShopTodo")
    open_operation(page, "todo", "getShopTodo")  # the document has loaded
    page.fill("#api-key-input", new_key)
    page.click("#use-api-key button[type=submit]")
    assert page.locator("#calling-as").inner_text().endswith(f"{new_key[:8]}\u2026")
    operation = open_operation(page, "todo", "getShopTodo")  # re-rendered after the switch
    try_it_out(operation, "limit").fill("3")
    with page.expect_request(re.compile(r"/api/v2/shop/_table/todo\?")) as sent:
        operation.locator("button.execute").click()
    headers = sent.value.all_headers()
    assert headers.get("x-dreamfactory-api-key") == new_key
    assert "x-dreamfactory-session-token" not in headers
    live = operation.locator(".live-responses-table tr.response")
    live.wait_for()
    assert live.locator(".response-col_status").inner_text().strip() == "200"
    body = live.locator(".response-col_description pre").first.inner_text()
    assert "test1" in body and "test3" in body and "test4" not in body
    page.add_style_tag(content=".curl-command, #api-key-input { display: none !important; }")
    live.scroll_into_view_if_needed()
    screenshot("10-api-docs-with-api-key")
