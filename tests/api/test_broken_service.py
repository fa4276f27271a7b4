"""One bad service row never takes the gateway down (issue #10): a service whose password was
encrypted under another key, or whose stored settings are invalid, answers 503 saying what to
fix; every other service, the service list, the system API and the admin keep working, and the
admin can open, fix or delete it.
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client

from tests.conftest import Api, service_kwargs

pytestmark = pytest.mark.django_db

S = "/api/v2/system/service"
UNDECRYPTABLE = "cannot be decrypted with the configured GATEWAY_ENCRYPTION_KEY"


_RAW_UPDATES = {
    "password": "UPDATE services_service SET password = %s WHERE id = %s",
    "port": "UPDATE services_service SET port = %s WHERE id = %s",
    "sslmode": "UPDATE services_service SET sslmode = %s WHERE id = %s",
}


def _store_raw(service_id: int, column: str, value: Any) -> None:
    """Write a column behind the ORM's back, as another key or a hand edit would."""
    with connection.cursor() as cursor:
        cursor.execute(_RAW_UPDATES[column], [value, service_id])


@pytest.fixture
def bad(api: Api, seeded: dict[str, Any]) -> Any:
    """A second service, `bad`, whose stored password was encrypted under another key."""
    from services.models import Service

    service = Service.objects.create(**service_kwargs(seeded, name="bad", password="pw"))
    foreign = "fernet:" + Fernet(Fernet.generate_key()).encrypt(b"secret").decode()
    _store_raw(service.pk, "password", foreign)
    return service


def test_an_undecryptable_password_breaks_only_its_service(api: Api, bad: Any) -> None:
    status, body = api.get("/api/v2/bad/_table/todo")
    assert status == 503, body
    assert UNDECRYPTABLE in body["error"]["message"]
    assert f"PATCH /api/v2/system/service/{bad.pk}" in body["error"]["message"]
    assert body["error"]["context"] == {"reason": "broken_config"}

    assert api.get("/api/v2/shop/_table/todo")[0] == 200
    status, body = api.get("/api/v2")
    assert status == 200 and {"bad", "shop"} <= {s["name"] for s in body["services"]}
    status, body = api.get(S)
    assert status == 200 and {"bad", "shop"} <= {s["name"] for s in body["resource"]}
    status, body = api.get(f"{S}/{bad.pk}")
    assert status == 200 and body["config"]["password"] == "**********"

    # test connection says the same instead of trying the ciphertext as a password
    status, body = api.post(f"{S}/{bad.pk}/_test")
    assert status == 503 and UNDECRYPTABLE in body["error"]["message"]

    # a change that does not touch the password keeps the stored value as it was
    assert api.patch(f"{S}/{bad.pk}", {"label": "Still bad"})[0] == 200
    assert api.get("/api/v2/bad/_table/todo")[0] == 503

    # re-entering the password fixes it
    fixed = service_kwargs({"dbname": "x"})["password"]
    assert api.patch(f"{S}/{bad.pk}", {"config": {"password": fixed}})[0] == 200
    assert api.get("/api/v2/bad/_table/todo")[0] == 200


def test_the_admin_can_open_fix_and_delete_it(admin_user: Any, bad: Any) -> None:
    client = Client()
    client.force_login(admin_user)
    for page in ("", f"{bad.pk}/change/", f"{bad.pk}/delete/", f"{bad.pk}/schema/"):
        response = client.get(f"/admin/services/service/{page}")
        assert response.status_code == 200, page
    assert UNDECRYPTABLE in client.get("/admin/services/service/").content.decode()
    assert client.get("/admin/").status_code == 200
    response = client.post(f"/admin/services/service/{bad.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    from services.models import Service

    assert not Service.objects.filter(pk=bad.pk).exists()


def test_invalid_stored_settings_break_only_their_service(api: Api, bad: Any) -> None:
    _store_raw(bad.pk, "password", "")
    _store_raw(bad.pk, "port", 70000)
    _store_raw(bad.pk, "sslmode", "bogus")
    status, body = api.get("/api/v2/bad/_table/todo")
    assert status == 503, body
    message = body["error"]["message"]
    assert "stored settings are invalid" in message
    assert "port" in message and "sslmode" in message
    assert api.get("/api/v2/shop/_table/todo")[0] == 200
