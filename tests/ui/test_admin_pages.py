"""The admin console's server side without a browser: write-only password, staff-only custom
views, CSRF on the test-connection POST, branding and the "System admin" label."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from services.admin import ServiceForm
from tests.conftest import service_kwargs

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def stored(db: Any, seeded: dict[str, Any]) -> Any:
    from services.models import Service

    return Service.objects.create(**service_kwargs(seeded, password="s3cret-pw"))


def _form_data(service: Any, **changes: Any) -> dict[str, Any]:
    fields = ServiceForm(instance=service).initial
    data = {k: v for k, v in fields.items() if v is not None and k != "password"}
    return {**data, **changes}


def test_password_is_never_rendered(staff: Client, stored: Any) -> None:
    response = staff.get(f"/admin/services/service/{stored.pk}/change/")
    assert response.status_code == 200
    assert b"s3cret-pw" not in response.content
    assert b'name="password" autocomplete="new-password"' in response.content


def test_blank_password_keeps_the_stored_one(stored: Any) -> None:
    form = ServiceForm(data=_form_data(stored, password="", label="renamed"), instance=stored)
    assert form.is_valid(), form.errors
    saved = form.save()
    saved.refresh_from_db()
    assert (saved.label, saved.password) == ("renamed", "s3cret-pw")


def test_new_password_replaces_and_clear_removes(stored: Any) -> None:
    form = ServiceForm(data=_form_data(stored, password="n3w"), instance=stored)
    assert form.is_valid(), form.errors
    assert form.save().password == "n3w"
    form = ServiceForm(data=_form_data(stored, password="", clear_password="on"), instance=stored)
    assert form.is_valid(), form.errors
    form.save()
    stored.refresh_from_db()
    assert stored.password == ""


@pytest.mark.parametrize("suffix", ["test-connection/", "schema/"])
def test_custom_views_need_a_staff_login(db: Any, stored: Any, suffix: str) -> None:
    url = f"/admin/services/service/{stored.pk}/{suffix}"
    response = Client().post(url) if suffix.startswith("test") else Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_test_connection_is_post_only_and_csrf_checked(admin_user: Any, stored: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = f"/admin/services/service/{stored.pk}/test-connection/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403  # no CSRF token
    assert Client().post("/admin/services/service/test-connection/").status_code == 302


def test_test_connection_tests_the_form_values_without_saving(staff: Client, stored: Any) -> None:
    """The form's port, not the stored one; the stored password when the field is blank;
    nothing saved either way."""
    url = f"/admin/services/service/{stored.pk}/test-connection/"
    answer = staff.post(url, _form_data(stored, port=1)).json()
    assert answer["ok"] is False and answer["level"] == "error"
    assert "Connection refused" in answer["message"], answer
    answer = staff.post(url, _form_data(stored, password="")).json()
    assert answer["ok"] is True and "connection succeeded. PostgreSQL" in answer["message"]
    answer = staff.post(url, _form_data(stored, username="no_such_role")).json()
    assert answer["ok"] is False, answer
    stored.refresh_from_db()
    assert stored.port != 1 and stored.password == "s3cret-pw"


def test_the_add_page_tests_before_anything_exists(staff: Client, seeded: dict[str, Any]) -> None:
    from services.models import Service

    values = _form_data(Service(**service_kwargs(seeded)), name="fresh")
    url = "/admin/services/service/test-connection/"
    answer = staff.post(url, values).json()
    assert answer["ok"] is True, answer
    answer = staff.post(url, {**values, "host": "", "name": "Bad Name"}).json()
    assert answer["ok"] is False and answer["message"].startswith("Not tested: name:"), answer
    assert not Service.objects.filter(name="fresh").exists()


def test_saving_an_unreachable_service_warns_and_keeps_it(staff: Client, stored: Any) -> None:
    url = f"/admin/services/service/{stored.pk}/change/"
    response = staff.post(url, _form_data(stored, port=1, _continue="1"), follow=True)
    text = [str(m) for m in response.context["messages"]]
    assert any("was changed successfully" in m for m in text), text
    assert any(m.startswith("Saved, but the connection test failed.") for m in text), text
    stored.refresh_from_db()
    assert stored.port == 1


def test_schema_of_an_inactive_service_says_so(staff: Client, stored: Any) -> None:
    stored.is_active = False
    stored.save()
    response = staff.get(f"/admin/services/service/{stored.pk}/schema/")
    assert response.status_code == 200
    assert b"is deactivated" in response.content


def test_unknown_service_is_404(staff: Client) -> None:
    assert staff.get("/admin/services/service/999/schema/").status_code == 404


def test_branding_and_system_admin_label(staff: Client, stored: Any, admin_user: Any) -> None:
    index = staff.get("/admin/").content.decode()
    assert "pg-gateway admin" in index
    assert 'id="dashboard-services"' in index
    assert stored.name in index
    users = staff.get("/admin/rbac/user/").content.decode()
    assert "System admin" in users
    change = staff.get(f"/admin/rbac/user/{admin_user.pk}/change/").content.decode()
    assert "System admin" in change


def test_the_dashboard_shows_each_services_live_state(staff: Client, stored: Any) -> None:
    from services.models import Service

    down = Service.objects.create(**{**service_kwargs_of(stored), "name": "down", "port": 1})
    Service.objects.create(**{**service_kwargs_of(stored), "name": "off", "is_active": False})
    page = staff.get("/admin/").content.decode()
    rows = {
        name: page.split(f'data-service="{name}"', 1)[1].split("</tr>", 1)[0]
        for name in (stored.name, down.name, "off")
    }
    assert 'class="service-status reachable"' in rows[stored.name]
    assert " ms</td>" in rows[stored.name]
    assert 'class="service-status unreachable"' in rows["down"]
    assert rows["down"].count("Connection refused") == 1  # the reason, once
    assert 'class="service-status inactive"' in rows["off"]

    # a database that failed and answers again: reachable, and the last failure with its age
    from core.errors import ServiceUnavailable
    from services.registry import registry

    breaker = registry.get(stored.name).pool.breaker
    breaker.trip(ServiceUnavailable("Database connection failed: the server restarted."))
    breaker.reset()
    page = staff.get("/admin/").content.decode()
    row = page.split(f'data-service="{stored.name}"', 1)[1].split("</tr>", 1)[0]
    assert 'class="service-status reachable"' in row
    assert "s ago: Database connection failed: the server restarted." in row


def service_kwargs_of(service: Any) -> dict[str, Any]:
    fields = ("host", "port", "database", "username", "password", "schema", "sslmode")
    return {name: getattr(service, name) for name in fields}


def test_a_rule_component_is_picked_from_the_services_schema(staff: Client, stored: Any) -> None:
    from rbac.admin import RuleForm
    from rbac.models import Role

    def rule(component: str) -> Any:
        data = {"service": stored.pk, "component": component, "verbs": ["GET"], "filter_op": "AND"}
        return RuleForm(data={**data, "filters": "[]"})

    for good in ("_table/customers", "_table/*", "*", "_func/add_numbers", "_table/Customers/5"):
        assert rule(good).is_valid(), (good, rule(good).errors)
    refused = rule("_table/nosuch_table")
    assert not refused.is_valid()
    assert refused.errors["component"] == [
        "Service 'shop' has no table 'nosuch_table'; pick one from the list "
        "(or a wildcard such as _table/*)."
    ]
    assert "has no function 'nope'" in rule("_func/nope").errors["component"][0]
    assert "not a component of a database service" in rule("_tables/x").errors["component"][0]

    role = Role.objects.create(name="picker")
    page = staff.get(f"/admin/rbac/role/{role.pk}/change/").content.decode()
    assert f'<datalist id="components-{stored.pk}">' in page
    assert '<option value="_table/customers">' in page
    assert '<option value="_func/add_numbers">' in page
    assert '<option value="system/role/*">' in page  # rules without a service: the system API
