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


def test_test_connection_reports_refusal(staff: Client, stored: Any) -> None:
    stored.port = 1
    stored.save()
    response = staff.post(f"/admin/services/service/{stored.pk}/test-connection/", follow=True)
    assert response.redirect_chain[-1][0] == f"/admin/services/service/{stored.pk}/change/"
    text = [str(m) for m in response.context["messages"]]
    assert any("Connection refused" in m for m in text), text


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
