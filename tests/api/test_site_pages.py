"""The site outside the admin (issue #16): `/` leads somewhere, `/docs/` lists the services, and
a docs page for a name that is not a served database answers 404 instead of a broken page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from rbac.models import OidcProvider
from services.models import Service

pytestmark = pytest.mark.django_db


def links(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def test_landing_page_links_to_admin_docs_and_health(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    found = links(response.content.decode())
    for target in ("/admin/", "/docs/", "/health"):
        assert target in found
    for target in ("/admin/", "/health"):  # each link leads somewhere without a login
        assert client.get(target, follow=True).status_code == 200


def test_landing_page_shows_no_secrets(client: Client, admin_user: Any, settings: Any) -> None:
    html = client.get("/").content.decode()
    assert settings.SECRET_KEY not in html
    assert admin_user.email not in html
    assert "csrfmiddlewaretoken" not in html


def test_admin_view_site_link_goes_to_the_landing_page(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    html = client.get("/admin/").content.decode()
    view_site = re.search(r'<a href="([^"]*)">View site</a>', html)
    assert view_site is not None
    assert client.get(view_site.group(1)).status_code == 200


def test_docs_index_sends_anonymous_users_to_the_admin_login(client: Client) -> None:
    response = client.get("/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/docs/"


def test_docs_index_lists_database_services_not_providers(
    client: Client, admin_user: Any, service: Any
) -> None:
    OidcProvider.objects.create(
        name="acme", label="Acme SSO", issuer="https://idp.example.com", client_id="gateway"
    )
    Service.objects.create(name="archive", label="Old shop", host="127.0.0.1", is_active=False)
    client.force_login(admin_user)
    response = client.get("/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    found = links(html)
    assert "/docs/shop/" in found
    assert client.get("/docs/shop/").status_code == 200
    assert "acme" not in html  # a sign-in provider has no API
    # an inactive service is named, with the way to activate it rather than a dead docs link
    assert "archive" in html
    assert "/docs/archive/" not in found
    assert f"/admin/services/service/{Service.objects.get(name='archive').pk}/change/" in found


def test_docs_index_with_no_services_says_how_to_add_one(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)
    html = client.get("/docs/").content.decode()
    assert "No services yet" in html
    assert "/admin/services/service/add/" in links(html)


@pytest.mark.parametrize("name", ["nosuch", "acme", "archive"])
def test_docs_page_without_a_served_database_is_404(
    client: Client, admin_user: Any, service: Any, name: str
) -> None:
    OidcProvider.objects.create(name="acme", issuer="https://idp.example.com", client_id="gateway")
    Service.objects.create(name="archive", host="127.0.0.1", is_active=False)
    client.force_login(admin_user)
    response = client.get(f"/docs/{name}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert name in html
    assert "Failed to load API definition" not in html
    assert "swagger-ui" not in html  # no token-carrying Swagger page for it
    assert "/docs/" in links(html)


def test_docs_page_for_unknown_service_still_needs_a_login(client: Client) -> None:
    response = client.get("/docs/nosuch/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
