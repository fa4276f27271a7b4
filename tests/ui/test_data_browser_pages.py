"""The data browser page's server side without a browser: staff only, 404s for unknown names,
no-store, no password, and the embedded session token works against the data API."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client

from tests.conftest import service_kwargs

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pw"  # the service's stored password (the fixture server trusts postgres)


@pytest.fixture
def shop(db: Any, seeded: dict[str, Any]) -> Any:
    from services.models import Service

    return Service.objects.create(**service_kwargs(seeded, password=PASSWORD))


@pytest.fixture
def staff(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def _url(service: Any, table: str) -> str:
    return f"/admin/services/service/{service.pk}/data/{table}/"


def _config(content: bytes) -> dict[str, Any]:
    found = re.search(
        rb'<script id="data-browser-config" type="application/json">(.*?)</script>', content
    )
    assert found, "the page embeds its configuration"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def test_needs_a_staff_login(shop: Any) -> None:
    from rbac.models import User

    url = _url(shop, "customers")
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    plain = User.objects.create_user("plain@example.com", "correct-horse-battery")
    client = Client()
    client.force_login(plain)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_unknown_table_or_service_is_404(staff: Client, shop: Any) -> None:
    assert staff.get(_url(shop, "no_such_table")).status_code == 404
    assert staff.get(f"/admin/services/service/{shop.pk + 1000}/data/customers/").status_code == 404


def test_page_is_no_store_and_carries_no_password(staff: Client, shop: Any) -> None:
    response = staff.get(_url(shop, "customers"))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert PASSWORD.encode() not in response.content
    config = _config(response.content)
    assert config["url"] == "/api/v2/shop/_table/customers"
    assert config["primary_key"] == ["id"]
    assert [c["name"] for c in config["columns"]] == [
        "id",
        "name",
        "email",
        "country",
        "created_at",
    ]
    assert config["can_update"] is True
    assert "password" not in json.dumps(config).lower()


def test_embedded_token_reads_the_table_through_the_api(staff: Client, shop: Any) -> None:
    config = _config(staff.get(_url(shop, "customers")).content)
    headers = {"X-DreamFactory-Session-Token": config["token"]}
    answer = Client().get(f"{config['url']}?include_count=true", headers=headers)
    assert answer.status_code == 200, answer.content
    assert answer.json()["meta"]["count"] == 3


def test_table_without_primary_key_is_read_only(staff: Client, shop: Any) -> None:
    response = staff.get(_url(shop, "no_pk"))
    assert response.status_code == 200
    assert b"has no primary key" in response.content
    config = _config(response.content)
    assert (config["can_update"], config["can_delete"]) == (False, False)


def test_schema_page_links_every_table_to_its_browser(staff: Client, shop: Any) -> None:
    content = staff.get(f"/admin/services/service/{shop.pk}/schema/").content.decode()
    links = {
        html.unescape(href)
        for href in re.findall(r'class="data-browser-link" href="([^"]+)"', content)
    }
    assert _url(shop, "customers") in links
    assert _url(shop, "big_orders") in links  # a view
    spaced = _url(shop, "Table%20With%20Space")
    assert spaced in links
    response = staff.get(spaced)
    assert response.status_code == 200
    assert _config(response.content)["table"] == "Table With Space"
    for link in links:  # odd names too: quote"d, Escap3e;, select
        assert staff.get(link).status_code == 200, link


def test_inactive_service_says_why(staff: Client, shop: Any) -> None:
    shop.is_active = False
    shop.save()
    response = staff.get(_url(shop, "customers"))
    assert response.status_code == 200
    assert b"Service shop is deactivated." in response.content
    assert b"data-browser-config" not in response.content  # no token for a page that cannot work
