"""The data cache (issue #6, spec §11): cached reads of services with cache_enabled, on local
memory and on a real Redis. Hits, misses, immediate invalidation by writes through the
gateway, ETag and 304, per-role (and per-row-filter) isolation, refresh, the system cache calls.

A row changed directly in PostgreSQL (outside the gateway) shows whether an answer came from
the cache: a cached answer still has the old value.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.verbs import ALL_VERBS, GET
from services.models import Service
from tests.conftest import Api, assign_role, client_for, login, make_app, make_role, make_user

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
TODO = f"{T}/todo"
PASSWORD = "user-password-123"


@pytest.fixture
def cached(service: Service, cache_backend: str) -> Service:
    service.cache_enabled = True
    service.cache_ttl = 60
    service.save()
    return service


def _get(api: Api, path: str, **headers: str) -> Any:
    return api.client.get(path, headers={**api.headers, **headers})


def _rename_directly(pg: Any, todo_id: int, name: str) -> None:
    pg.execute("UPDATE todo SET name = %s WHERE id = %s", (name, todo_id))


def test_a_second_read_is_a_hit_until_refresh(api: Api, cached: Service, pg: Any) -> None:
    first = _get(api, f"{TODO}/1")
    assert (first.status_code, first["X-Cache"]) == (200, "MISS")
    _rename_directly(pg, 1, "changed behind the gateway")
    second = _get(api, f"{TODO}/1")
    assert (second.status_code, second["X-Cache"]) == (200, "HIT")
    assert second.content == first.content  # the stored answer, not the database's
    assert second["ETag"] == first["ETag"]
    fresh = _get(api, f"{TODO}/1?refresh=true")
    assert fresh["X-Cache"] == "BYPASS"
    assert fresh.json()["name"] == "changed behind the gateway"
    assert _get(api, f"{TODO}/1")["X-Cache"] == "HIT"  # refresh replaced the entry
    assert _get(api, f"{TODO}/1").json()["name"] == "changed behind the gateway"


def test_query_options_are_part_of_the_key_but_their_order_is_not(
    api: Api, cached: Service
) -> None:
    assert _get(api, f"{TODO}?limit=2&order=id%20desc")["X-Cache"] == "MISS"
    assert _get(api, f"{TODO}?order=id%20desc&limit=2")["X-Cache"] == "HIT"
    assert _get(api, f"{TODO}?limit=3&order=id%20desc")["X-Cache"] == "MISS"
    # credentials in the query are not part of the key
    assert _get(api, f"{TODO}?limit=2&order=id%20desc&session_token=")["X-Cache"] == "HIT"


def test_writes_through_the_gateway_invalidate_at_once(api: Api, cached: Service, pg: Any) -> None:
    assert _get(api, f"{TODO}/2")["X-Cache"] == "MISS"
    assert _get(api, TODO)["X-Cache"] == "MISS"
    assert api.patch(f"{TODO}/2", {"name": "patched"})[0] == 200
    after = _get(api, f"{TODO}/2")
    assert (after["X-Cache"], after.json()["name"]) == ("MISS", "patched")
    listing = _get(api, TODO)
    assert listing["X-Cache"] == "MISS"
    assert "patched" in listing.content.decode()
    # a failed batch that wrote some records invalidates too
    assert _get(api, TODO)["X-Cache"] == "HIT"
    status, _ = api.post(TODO, [{"name": "new one"}, {"name": "patched"}])  # the 2nd is a dup
    assert status == 400
    assert "new one" in _get(api, TODO).content.decode()


def test_related_tables_are_part_of_the_key(api: Api, cached: Service) -> None:
    path = f"{T}/customers/1?related=orders_by_customer_id"
    assert _get(api, path)["X-Cache"] == "MISS"
    assert _get(api, path)["X-Cache"] == "HIT"
    assert api.patch(f"{T}/orders/1", {"note": "new note"})[0] == 200
    answer = _get(api, path)
    assert answer["X-Cache"] == "MISS"
    assert answer.json()["orders_by_customer_id"][0]["note"] == "new note"


def test_etag_and_if_none_match(api: Api, cached: Service) -> None:
    first = _get(api, f"{TODO}/3")
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = _get(api, f"{TODO}/3", **{"If-None-Match": etag})
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", etag)
    assert _get(api, f"{TODO}/3", **{"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert _get(api, f"{TODO}/3", **{"If-None-Match": '"stale"'}).status_code == 200
    assert api.patch(f"{TODO}/3", {"name": "renamed"})[0] == 200
    changed = _get(api, f"{TODO}/3", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_roles_never_see_each_others_cached_rows(service: Service, cache_backend: str) -> None:
    service.cache_enabled = True
    service.save()

    def rule(value: str) -> dict[str, Any]:
        return {
            "service": service,
            "component": "_table/orders/*",
            "verb_mask": GET,
            "filters": [{"name": "customer_id", "operator": "=", "value": value}],
        }

    acme_role = make_role("acme orders", [rule("1")])
    globex_role = make_role("globex orders", [rule("2")])
    _app1, acme_key = make_app("acme app", acme_role)
    _app2, globex_key = make_app("globex app", globex_role)
    url = f"{T}/orders?fields=id,customer_id"

    def ids(key: str) -> tuple[str, list[int]]:
        response = client_for(key).client.get(url, headers={"X-DreamFactory-Api-Key": key})
        return response["X-Cache"], [r["id"] for r in response.json()["resource"]]

    assert ids(acme_key) == ("MISS", [1, 2])
    assert ids(globex_key) == ("MISS", [3])  # same URL, another role: its own entry
    assert ids(acme_key) == ("HIT", [1, 2])
    assert ids(globex_key) == ("HIT", [3])


def test_users_of_one_role_with_lookup_filters_are_kept_apart(
    service: Service, cache_backend: str
) -> None:
    service.cache_enabled = True
    service.save()
    role = make_role(
        "own customer",
        [
            {
                "service": service,
                "component": "_table/customers/*",
                "verb_mask": ALL_VERBS,
                "filters": [{"name": "email", "operator": "=", "value": "{user.email}"}],
            }
        ],
    )
    app, key = make_app("customers app", role)
    for email in ("acme@example.com", "globex@example.com"):
        assign_role(make_user(email, PASSWORD), app, role)
    acme = client_for(key, login("acme@example.com", PASSWORD, key))
    globex = client_for(key, login("globex@example.com", PASSWORD, key))
    assert [c["name"] for c in acme.get(f"{T}/customers")[1]["resource"]] == ["Acme"]
    assert [c["name"] for c in globex.get(f"{T}/customers")[1]["resource"]] == ["Globex"]
    assert [c["name"] for c in acme.get(f"{T}/customers")[1]["resource"]] == ["Acme"]


def test_admins_and_roles_do_not_share_entries(api: Api, cached: Service, admin_token: str) -> None:
    reader = make_role("reader", [{"service": cached, "component": "_table/*", "verb_mask": GET}])
    _app, key = make_app("reader app", reader)
    assert _get(api, TODO)["X-Cache"] == "MISS"
    keyed = client_for(key)
    assert _get(keyed, TODO)["X-Cache"] == "MISS"
    assert _get(keyed, TODO)["X-Cache"] == "HIT"


def test_system_cache_calls(api: Api, cached: Service) -> None:
    assert _get(api, f"{TODO}/1")["X-Cache"] == "MISS"
    assert _get(api, f"{TODO}/1")["X-Cache"] == "HIT"
    assert api.delete("/api/v2/system/cache/shop") == (200, {"success": True})
    assert _get(api, f"{TODO}/1")["X-Cache"] == "MISS"
    assert api.delete("/api/v2/system/cache") == (200, {"success": True})
    assert _get(api, f"{TODO}/1")["X-Cache"] == "MISS"
    status, body = api.delete("/api/v2/system/cache/nope")
    assert (status, body["error"]["message"]) == (404, "Could not find a service for nope")
    assert api.get("/api/v2/system/cache") == (200, {"resource": [{"name": "shop"}]})
    status, body = api.get("/api/v2/system/cache", fields="*")
    assert body["resource"][0]["type"] == "pgsql"
    assert client_for().delete("/api/v2/system/cache")[0] == 401


def test_sql_writes_invalidate_the_service(api: Api, cached: Service, pg: Any) -> None:
    cached.allow_sql = True
    cached.save()
    assert _get(api, f"{TODO}/4")["X-Cache"] == "MISS"
    query = {"query": "UPDATE todo SET name = $1 WHERE id = 4", "params": ["via sql"]}
    assert api.post("/api/v2/shop/_sql", query)[0] == 200
    after = _get(api, f"{TODO}/4")
    assert (after["X-Cache"], after.json()["name"]) == ("MISS", "via sql")


def test_entries_expire_after_the_services_ttl(api: Api, cached: Service) -> None:
    cached.cache_ttl = 1
    cached.save()
    assert _get(api, f"{TODO}/5")["X-Cache"] == "MISS"
    assert _get(api, f"{TODO}/5")["X-Cache"] == "HIT"
    time.sleep(1.2)
    assert _get(api, f"{TODO}/5")["X-Cache"] == "MISS"


def test_services_without_caching_are_not_cached(api: Api, service: Service, pg: Any) -> None:
    first = _get(api, f"{TODO}/1")
    assert "X-Cache" not in first and "ETag" not in first
    _rename_directly(pg, 1, "seen at once")
    assert _get(api, f"{TODO}/1").json()["name"] == "seen at once"


def test_switching_caching_off_and_on_reuses_nothing(api: Api, cached: Service, pg: Any) -> None:
    assert _get(api, f"{TODO}/1")["X-Cache"] == "MISS"
    cached.cache_enabled = False
    cached.save()
    assert api.patch(f"{TODO}/1", {"name": "while off"})[0] == 200  # no invalidation now
    cached.cache_enabled = True
    cached.save()
    answer = _get(api, f"{TODO}/1")
    assert (answer["X-Cache"], answer.json()["name"]) == ("MISS", "while off")
