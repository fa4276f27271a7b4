"""Rate limits (issue #6 item 2, spec §10): the `/api/v2/system/limit` records and their checks,
every limit type counted on the data API of service `shop` with 429 answers and X-RateLimit-*
headers, the counters in `/api/v2/system/limit_cache` and in the admin, and the counters really
shared through Redis.

Every test that counts runs twice (the `cache_backend` fixture): on local memory and on a real
Redis. Counting tests use the `hour` period so three calls never straddle a window boundary;
the minute-window tests freeze the clock instead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import redis
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client

from core.verbs import ALL_VERBS, GET
from limits import counters, rules
from limits import enforce as limits_enforce
from limits.models import Limit
from tests.conftest import (
    REDIS_URL,
    Api,
    assert_batch_error,
    assert_error,
    assign_role,
    client_for,
    drop_redis_prefix,
    login,
    make_app,
    make_role,
    make_user,
    redis_caches,
    service_kwargs,
)

pytestmark = pytest.mark.django_db

LIMIT = "/api/v2/system/limit"
LIMIT_CACHE = "/api/v2/system/limit_cache"
COUNTERS = "limit_cache_by_limit_id"
T = "/api/v2/shop/_table"
TODO = f"{T}/todo"
CUSTOMERS = f"{T}/customers"
PASSWORD = "user-password-123"
HOUR = 3600
TOKEN = "X-DreamFactory-Session-Token"

EXCEEDED = "API limit(s) exceeded. "
DUPLICATE = "A limit already exists with those parameters. No records added."
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# the fields of a limit record as the spec shows it (§10)
RECORD_FIELDS = {
    "id",
    "type",
    "key_text",
    "rate",
    "period",
    "user_id",
    "role_id",
    "service_id",
    "endpoint",
    "verb",
    "name",
    "description",
    "is_active",
}


# --- callers and helpers ------------------------------------------------------------------


@dataclass
class World:
    """Service `shop`; role `reader` (every verb: the app's default role, Jane's and Bob's)
    and role `viewer` (GET only: Carol's); a client for each caller, all through one app."""

    service: Any
    reader: Any
    jane: Any
    bob: Any
    as_jane: Api
    as_bob: Api
    as_carol: Api
    as_app: Api  # the app's key alone: its default role, no user


@pytest.fixture
def world(cache_backend: str, api: Api, service: Any) -> World:
    reader = make_role("reader", [{"service": service, "component": "*", "verb_mask": ALL_VERBS}])
    viewer = make_role("viewer", [{"service": service, "component": "*", "verb_mask": GET}])
    app, key = make_app("Storefront", reader)
    jane = make_user("jane@example.com", PASSWORD)
    bob = make_user("bob@example.com", PASSWORD)
    carol = make_user("carol@example.com", PASSWORD)
    assign_role(jane, app, reader)
    assign_role(bob, app, reader)
    assign_role(carol, app, viewer)
    return World(
        service=service,
        reader=reader,
        jane=jane,
        bob=bob,
        as_jane=client_for(key, login("jane@example.com", PASSWORD, key)),
        as_bob=client_for(key, login("bob@example.com", PASSWORD, key)),
        as_carol=client_for(key, login("carol@example.com", PASSWORD, key)),
        as_app=client_for(key),
    )


def add_limit(api: Api, **fields: Any) -> dict[str, Any]:
    """A limit created through the system API (rate 2 per hour unless given); its record."""
    record = {"name": "limit", "rate": 2, "period": "hour", **fields}
    status, body = api.post(LIMIT, {"resource": [record]}, fields="*")
    assert status == 201, body
    (created,) = body["resource"]
    return dict(created)


def send(who: Api, path: str = TODO, method: str = "GET", body: Any = None) -> HttpResponse:
    """One data API call; the whole response (headers included)."""
    response: HttpResponse = getattr(who.client, method.lower())(
        path,
        data=orjson.dumps(body) if body is not None else "",
        content_type="application/json",
        headers=who.headers,
    )
    return response


def statuses(who: Api, count: int, path: str = TODO, method: str = "GET") -> list[int]:
    return [send(who, path, method).status_code for _ in range(count)]


def assert_ok(response: HttpResponse, limit: int, left: int) -> None:
    """A counted success: 200 with the tightest limit's headers."""
    assert response.status_code == 200, response.content
    assert response["X-RateLimit-Limit"] == str(limit)
    assert response["X-RateLimit-Remaining"] == str(left)
    assert int(response["X-RateLimit-Reset"]) > time.time() - 1
    assert "Retry-After" not in response


def assert_uncounted(response: HttpResponse) -> None:
    """A success no limit applies to: no X-RateLimit-* headers at all."""
    assert response.status_code == 200, response.content
    assert not [h for h in RATE_HEADERS if h in response], dict(response.headers)


def assert_limited(
    response: HttpResponse, *limits: dict[str, Any], seconds: int = HOUR
) -> dict[str, Any]:
    """429 in the error envelope naming exactly `limits` (in order), with the headers of the
    last one (DF reports the last limit it evaluated)."""
    error = assert_error(response.status_code, response.json(), 429, EXCEEDED)
    assert error["code"] == 429
    assert [(c["id"], c["name"]) for c in error["context"]] == [
        (limit["id"], limit["name"]) for limit in limits
    ]
    for entry, limit in zip(error["context"], limits, strict=True):
        assert set(entry) == {"id", "name", "object"}
        shown = entry["object"]
        for field in ("id", "name", "type", "rate", "period", "user_id", "role_id", "service_id"):
            assert shown[field] == limit[field], field
        assert (shown["endpoint"], shown["verb"]) == (limit["endpoint"], limit["verb"])
    last = limits[-1]
    now = time.time()
    assert response["X-RateLimit-Limit"] == str(last["rate"])
    assert response["X-RateLimit-Remaining"] == "0"
    retry, reset = int(response["Retry-After"]), int(response["X-RateLimit-Reset"])
    assert 1 <= retry <= seconds
    assert now < reset <= now + seconds + 1
    assert abs(reset - now - retry) <= 2
    return error


def rule_of(limit: dict[str, Any]) -> rules.LimitRule:
    return rules.rule_from(vars(Limit.objects.get(pk=limit["id"])))


def second_service(seeded: dict[str, Any], *roles: Any) -> Any:
    """Service `shop2` on the same fixture database, open to `roles` for every verb."""
    from rbac.models import RoleServiceAccess
    from services.models import Service

    shop2 = Service.objects.create(**service_kwargs(seeded, name="shop2"))
    for role in roles:
        RoleServiceAccess.objects.create(
            role=role, service=shop2, component="*", verb_mask=ALL_VERBS
        )
    return shop2


def freeze(monkeypatch: pytest.MonkeyPatch, at: float) -> None:
    """Stop the clock the limits read: limits.enforce and limits.counters call time.time()
    of the one `time` module, so this patches both (and everything else reading it)."""
    assert limits_enforce.time is counters.time
    monkeypatch.setattr(limits_enforce.time, "time", lambda: at)


# --- the system API: records and validation --------------------------------------------------


def test_create_read_patch_delete(api: Api, service: Any) -> None:
    jane = make_user("jane@example.com")
    status, body = api.post(
        LIMIT,
        {
            "resource": [
                {
                    "type": "instance.user.service",
                    "rate": 60,
                    "period": "minute",
                    "user_id": jane.pk,
                    "service_id": service.pk,
                    "name": "Jane on shop",
                }
            ]
        },
    )
    assert status == 201, body
    assert list(body) == ["resource"]
    assert len(body["resource"]) == 1 and set(body["resource"][0]) == {"id"}
    pk = body["resource"][0]["id"]
    expected = {
        "id": pk,
        "type": "instance.user.service",
        "key_text": f"instance.user:{jane.pk}.service:{service.pk}.minute",
        "rate": 60,
        "period": "minute",
        "user_id": jane.pk,
        "role_id": None,
        "service_id": service.pk,
        "endpoint": None,
        "verb": None,
        "name": "Jane on shop",
        "description": "",
        "is_active": True,
    }
    status, record = api.get(f"{LIMIT}/{pk}")
    assert status == 200, record
    assert {k: record[k] for k in RECORD_FIELDS} == expected
    assert {"created_date", "last_modified_date"} <= set(record)
    status, listed = api.get(LIMIT)
    assert status == 200
    assert [{k: r[k] for k in RECORD_FIELDS} for r in listed["resource"]] == [expected]

    status, body = api.patch(f"{LIMIT}/{pk}", {"rate": 10, "period": "day", "verb": "get"})
    assert (status, body) == (200, {"id": pk})
    status, record = api.get(f"{LIMIT}/{pk}")
    assert (record["rate"], record["period"], record["verb"]) == (10, "day", "GET")
    assert record["key_text"] == f"instance.user:{jane.pk}.service:{service.pk}.day"
    stored = Limit.objects.get(pk=pk)
    assert (stored.rate, stored.period, stored.verb) == (10, 2, "GET")

    status, body = api.delete(f"{LIMIT}/{pk}")
    assert (status, body) == (200, {"id": pk})
    status, body = api.get(f"{LIMIT}/{pk}")
    assert_error(status, body, 404, f"Record with identifier '{pk}' not found.")
    assert not Limit.objects.exists()


def test_key_text_of_each_type(api: Api, service: Any) -> None:
    jane = make_user("jane@example.com")
    role = make_role("reader", [])
    u, r, s = jane.pk, role.pk, service.pk
    cases = [
        ({"type": "instance"}, "instance.hour"),
        ({"type": "instance.user", "user_id": u}, f"instance.user:{u}.hour"),
        ({"type": "instance.each_user"}, "instance.each_user.hour"),
        ({"type": "instance.role", "role_id": r}, f"instance.role:{r}.hour"),
        ({"type": "instance.service", "service_id": s}, f"instance.service:{s}.hour"),
        (
            {"type": "instance.each_user.service", "service_id": s},
            f"instance.each_user.service:{s}.hour",
        ),
        (
            {"type": "instance.service.endpoint", "service_id": s, "endpoint": "/_table/TODO/"},
            f"instance.service:{s}.endpoint:_table/todo.hour",
        ),
        (
            {
                "type": "instance.user.service.endpoint",
                "user_id": u,
                "service_id": s,
                "endpoint": "_table/todo*",
            },
            f"instance.user:{u}.service:{s}.endpoint:_table/todo*.hour",
        ),
    ]
    for fields, key_text in cases:
        record = add_limit(api, name=fields["type"], **fields)
        assert record["key_text"] == key_text
        assert record["period"] == "hour"
    endpoint = Limit.objects.get(type="instance.service.endpoint").endpoint
    assert endpoint == "_table/todo"  # normalised: no slashes at the ends, lower case


@pytest.mark.parametrize("number", range(5))
def test_period_by_name_or_number(api: Api, number: int) -> None:
    name = ["minute", "hour", "day", "7-day", "30-day"][number]
    by_number = add_limit(api, type="instance", period=number, name="by number")
    assert by_number["period"] == name
    assert by_number["key_text"] == f"instance.{name}"
    by_name = add_limit(api, type="instance.each_user", period=name, name="by name")
    assert by_name["period"] == name
    assert by_name["key_text"] == f"instance.each_user.{name}"
    assert Limit.objects.get(pk=by_name["id"]).period == number


@pytest.mark.parametrize("period", ["fortnight", 5, -1, ""])
def test_unknown_period_is_refused(api: Api, period: Any) -> None:
    status, body = api.post(LIMIT, [{"type": "instance", "rate": 1, "period": period, "name": "x"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)
    assert not Limit.objects.exists()


@pytest.mark.parametrize(
    ("type_", "given", "missing"),
    [
        ("instance.user", {}, "user_id"),
        ("instance.role", {}, "role_id"),
        ("instance.service", {}, "service_id"),
        ("instance.user.service", {"service": True}, "user_id"),
        ("instance.user.service", {"user": True}, "service_id"),
        ("instance.each_user.service", {}, "service_id"),
        ("instance.service.endpoint", {"service": True}, "endpoint"),
        ("instance.service.endpoint", {"endpoint": "_table/todo"}, "service_id"),
        ("instance.user.service.endpoint", {"user": True, "service": True}, "endpoint"),
        ("instance.each_user.service.endpoint", {"service": True}, "endpoint"),
    ],
)
def test_missing_target_is_refused(
    api: Api, service: Any, type_: str, given: dict[str, Any], missing: str
) -> None:
    fields: dict[str, Any] = {"type": type_, "rate": 5, "period": 0, "name": "Needs more"}
    if given.get("user"):
        fields["user_id"] = make_user("jane@example.com").pk
    if given.get("service"):
        fields["service_id"] = service.pk
    if "endpoint" in given:
        fields["endpoint"] = given["endpoint"]
    status, body = api.post(LIMIT, [fields])
    assert_batch_error(
        status,
        body,
        0,
        f"{missing} must be specified with this limit type. Limit: Needs more",
    )
    assert not Limit.objects.exists()


def test_duplicates_are_refused(api: Api, service: Any) -> None:
    first = add_limit(api, type="instance.service", service_id=service.pk, name="first")
    again = {"type": "instance.service", "service_id": service.pk, "rate": 9, "period": "hour"}
    status, body = api.post(LIMIT, [{**again, "name": "again"}])
    assert_batch_error(status, body, 0, f"{DUPLICATE}")
    status, body = api.post(LIMIT, [{**again, "period": 1, "name": "again by number"}])
    assert_batch_error(status, body, 0, f"{DUPLICATE}")
    # another period is another limit; so is a batch that repeats itself: all or nothing
    other = add_limit(api, type="instance.service", service_id=service.pk, period="day")
    twice = {**again, "period": "minute", "name": "twice"}
    status, body = api.post(LIMIT, [twice, twice], rollback="true")
    assert_batch_error(status, body, 1, f"{DUPLICATE}")
    assert sorted(Limit.objects.values_list("pk", flat=True)) == [first["id"], other["id"]]
    # an update may not turn a limit into a copy of another; renaming it is fine
    status, body = api.patch(f"{LIMIT}/{other['id']}", {"period": "hour"})
    assert_error(status, body, 400, DUPLICATE)
    status, body = api.patch(f"{LIMIT}/{first['id']}", {"name": "renamed", "rate": 3})
    assert (status, body) == (200, {"id": first["id"]})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "instance.planet"}, "Validation failed:"),
        ({"type": ""}, "Validation failed:"),
        ({"verb": "FETCH"}, "verb must be one of GET, POST, PUT, PATCH, DELETE."),
        ({"verb": "MERGE"}, "verb must be one of GET, POST, PUT, PATCH, DELETE."),
        ({"rate": "many"}, "Validation failed:"),
        ({"rate": 1.5}, "Validation failed:"),
        ({"rate": -1}, "Validation failed:"),
        ({"rate": None}, "Validation failed:"),
    ],
)
def test_bad_fields_are_refused(api: Api, fields: dict[str, Any], message: str) -> None:
    record = {"type": "instance", "rate": 5, "period": "hour", "name": "Bad", **fields}
    status, body = api.post(LIMIT, [record])
    assert_batch_error(status, body, 0, message, prefix=True)
    assert not Limit.objects.exists()


def test_rate_zero_is_refused(api: Api) -> None:
    status, body = api.post(LIMIT, [{"type": "instance", "rate": 0, "name": "Zero"}])
    assert_batch_error(status, body, 0, "", prefix=True)
    assert not Limit.objects.exists()


def test_missing_rate_is_refused(api: Api) -> None:
    status, body = api.post(LIMIT, [{"type": "instance", "period": "hour", "name": "No rate"}])
    assert_batch_error(status, body, 0, "Validation failed:", prefix=True)


@pytest.mark.parametrize(
    ("type_", "field"),
    [
        ("instance.user", "user_id"),
        ("instance.role", "role_id"),
        ("instance.service", "service_id"),
    ],
)
def test_unknown_target_is_refused(api: Api, type_: str, field: str) -> None:
    status, body = api.post(LIMIT, [{"type": type_, field: 99999, "rate": 5, "name": "Ghost"}])
    assert_batch_error(status, body, 0, f"{field} 99999 does not exist. Limit: Ghost")
    assert not Limit.objects.exists()


def test_target_of_another_type_is_refused(api: Api, service: Any) -> None:
    status, body = api.post(
        LIMIT, [{"type": "instance", "service_id": service.pk, "rate": 5, "name": "Odd"}]
    )
    assert_batch_error(
        status,
        body,
        0,
        "service_id does not apply to limit type 'instance'. Limit: Odd",
    )


def test_invalid_patch_leaves_the_limit_as_it_was(api: Api, service: Any) -> None:
    limit = add_limit(api, type="instance.service", service_id=service.pk, name="shop")
    status, body = api.patch(f"{LIMIT}/{limit['id']}", {"type": "instance.user"})
    assert_error(status, body, 400, "user_id must be specified with this limit type. Limit: shop")
    status, body = api.patch(f"{LIMIT}/{limit['id']}", {"verb": "TRACE"})
    assert_error(
        status, body, 400, "verb must be one of GET, POST, PUT, PATCH, DELETE. Limit: shop"
    )
    stored = Limit.objects.get(pk=limit["id"])
    assert (stored.type, stored.verb) == ("instance.service", "")


def test_non_admins_are_refused(api: Api, service: Any, anon: Api) -> None:
    limit = add_limit(api, type="instance", name="everyone")
    role = make_role("reader", [{"service": service, "component": "*", "verb_mask": ALL_VERBS}])
    app, key = make_app("Storefront", role)
    assign_role(make_user("jane@example.com", PASSWORD), app, role)
    user = client_for(key, login("jane@example.com", PASSWORD, key))
    app_only = client_for(key)
    attempts = [
        ("GET", LIMIT, None),
        ("POST", LIMIT, [{"type": "instance", "rate": 1, "period": "day", "name": "x"}]),
        ("PATCH", f"{LIMIT}/{limit['id']}", {"rate": 1000}),
        ("DELETE", f"{LIMIT}/{limit['id']}", None),
        ("GET", LIMIT_CACHE, None),
        ("DELETE", f"{LIMIT_CACHE}/{limit['id']}", None),
    ]
    for method, path, body in attempts:
        status, answer = anon.call(method, path, body)
        assert status == 401, (method, path, answer)
        status, answer = app_only.call(method, path, body)
        assert status == 401, (method, path, answer)
        status, answer = user.call(method, path, body)
        assert_error(status, answer, 403, "You are not authorized to perform this action.")
    stored = Limit.objects.get()
    assert (stored.pk, stored.rate) == (limit["id"], 2)


# --- each limit type, counted -----------------------------------------------------------------


def test_instance_limit_counts_everyone_together(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance", name="Everyone")
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob, CUSTOMERS), 2, 0)
    assert_limited(send(world.as_app), limit)
    assert_limited(send(world.as_carol, f"{TODO}/1"), limit)


def test_user_limit_counts_only_that_user(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance.user", user_id=world.jane.pk, name="Jane")
    assert_ok(send(world.as_jane), 2, 1)
    for _ in range(3):
        assert_uncounted(send(world.as_bob))
        assert_uncounted(send(world.as_app))
    assert_ok(send(world.as_jane, CUSTOMERS), 2, 0)
    assert_limited(send(world.as_jane), limit)
    assert_limited(send(world.as_jane, CUSTOMERS), limit)
    assert_uncounted(send(world.as_bob))


def test_each_user_limit_gives_every_user_a_counter(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance.each_user", name="Each user")
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), limit)
    assert_ok(send(world.as_bob), 2, 1)  # Jane's calls are not Bob's
    assert_ok(send(world.as_bob), 2, 0)
    assert_limited(send(world.as_bob), limit)
    assert_ok(send(world.as_carol), 2, 1)
    # each-user limits apply to authenticated callers only: an app key alone is not counted
    for _ in range(4):
        assert_uncounted(send(world.as_app))


def test_role_limit_counts_the_roles_callers_together(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance.role", role_id=world.reader.pk, name="Readers")
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob), 2, 0)
    assert_limited(send(world.as_app), limit)  # the app's default role is `reader` too
    assert_limited(send(world.as_jane), limit)
    for _ in range(3):
        assert_uncounted(send(world.as_carol))  # role `viewer`


def test_service_limit_counts_only_that_service(
    api: Api, world: World, seeded: dict[str, Any]
) -> None:
    second_service(seeded, world.reader)
    limit = add_limit(api, type="instance.service", service_id=world.service.pk, name="shop")
    assert_ok(send(world.as_jane), 2, 1)
    for _ in range(3):
        assert_uncounted(send(world.as_jane, "/api/v2/shop2/_table/todo"))
    assert_ok(send(world.as_bob, CUSTOMERS), 2, 0)
    assert_limited(send(world.as_app), limit)
    assert_uncounted(send(world.as_bob, "/api/v2/shop2/_table/todo"))


def test_user_service_limit(api: Api, world: World, seeded: dict[str, Any]) -> None:
    second_service(seeded, world.reader)
    limit = add_limit(
        api,
        type="instance.user.service",
        user_id=world.jane.pk,
        service_id=world.service.pk,
        name="Jane on shop",
    )
    assert_ok(send(world.as_jane), 2, 1)
    assert_uncounted(send(world.as_jane, "/api/v2/shop2/_table/todo"))
    assert_uncounted(send(world.as_bob))
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane, CUSTOMERS), limit)
    assert_uncounted(send(world.as_jane, "/api/v2/shop2/_table/todo"))
    assert_uncounted(send(world.as_bob))


def test_each_user_service_limit(api: Api, world: World, seeded: dict[str, Any]) -> None:
    second_service(seeded, world.reader)
    limit = add_limit(
        api, type="instance.each_user.service", service_id=world.service.pk, name="Each on shop"
    )
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob), 2, 1)
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), limit)
    assert_uncounted(send(world.as_jane, "/api/v2/shop2/_table/todo"))
    assert_ok(send(world.as_bob), 2, 0)
    assert_limited(send(world.as_bob), limit)
    for _ in range(3):
        assert_uncounted(send(world.as_app))


def test_endpoint_limit_exact_and_prefix(api: Api, world: World) -> None:
    exact = add_limit(
        api,
        type="instance.service.endpoint",
        service_id=world.service.pk,
        endpoint="_table/todo",
        name="todo exactly",
    )
    prefix = add_limit(
        api,
        type="instance.service.endpoint",
        service_id=world.service.pk,
        endpoint="/_table/Todo*",
        rate=3,
        name="todo and its records",
    )
    # `_table/todo/3` is not `_table/todo`, but `_table/todo*` covers it
    assert_ok(send(world.as_jane, f"{TODO}/3"), 3, 2)
    assert_ok(send(world.as_jane, f"{TODO}/"), 2, 1)  # both count: 2-1 is tighter than 3-2
    for _ in range(3):
        assert_uncounted(send(world.as_bob, CUSTOMERS))
    assert_ok(send(world.as_bob, TODO), 2, 0)
    assert_limited(send(world.as_app, TODO), exact, prefix)  # 3 on exact, 4 on prefix
    assert_limited(send(world.as_jane, f"{TODO}/1"), prefix)
    assert_uncounted(send(world.as_jane, CUSTOMERS))


def test_user_service_endpoint_limit(api: Api, world: World) -> None:
    limit = add_limit(
        api,
        type="instance.user.service.endpoint",
        user_id=world.jane.pk,
        service_id=world.service.pk,
        endpoint="_table/todo*",
        name="Jane's todos",
    )
    assert_ok(send(world.as_jane, f"{TODO}/2"), 2, 1)
    assert_uncounted(send(world.as_jane, CUSTOMERS))
    assert_uncounted(send(world.as_bob, TODO))
    assert_ok(send(world.as_jane, TODO), 2, 0)
    assert_limited(send(world.as_jane, TODO), limit)
    assert_uncounted(send(world.as_jane, CUSTOMERS))
    assert_uncounted(send(world.as_bob, TODO))


def test_each_user_service_endpoint_limit(api: Api, world: World) -> None:
    limit = add_limit(
        api,
        type="instance.each_user.service.endpoint",
        service_id=world.service.pk,
        endpoint="_table/todo",
        name="Everyone's todo list",
    )
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob), 2, 1)
    assert_uncounted(send(world.as_jane, f"{TODO}/1"))
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), limit)
    assert_ok(send(world.as_bob), 2, 0)
    assert_limited(send(world.as_bob), limit)
    for _ in range(3):
        assert_uncounted(send(world.as_app))


def test_verb_limit_counts_only_that_verb(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance", verb="post", name="Writes")
    assert limit["verb"] == "POST"
    for _ in range(3):
        assert_uncounted(send(world.as_jane))
    first = send(world.as_jane, TODO, "POST", {"resource": [{"name": "one"}]})
    assert first.status_code == 200, first.content
    assert first["X-RateLimit-Remaining"] == "1"
    assert_uncounted(send(world.as_jane, f"{TODO}/1", "PATCH", {"complete": True}))
    second = send(world.as_bob, TODO, "POST", {"resource": [{"name": "two"}]})
    assert second.status_code == 200, second.content
    assert second["X-RateLimit-Remaining"] == "0"
    assert_limited(send(world.as_jane, TODO, "POST", {"resource": [{"name": "three"}]}), limit)
    assert_uncounted(send(world.as_jane))


def test_several_limits_exceeded_together_are_all_named(api: Api, world: World) -> None:
    everyone = add_limit(api, type="instance", rate=5, name="Everyone")
    jane = add_limit(api, type="instance.user", user_id=world.jane.pk, name="Jane")
    # the tightest limit's headers on success: Jane's (1 left) rather than everyone's (4 left)
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob), 5, 3)
    assert_ok(send(world.as_jane), 2, 0)
    assert_ok(send(world.as_bob), 5, 1)
    assert_ok(send(world.as_bob), 5, 0)
    # 6 calls of 5 and 3 of 2: both named; the headers are the last one's (Jane's, rate 2)
    error = assert_limited(send(world.as_jane), everyone, jane)
    assert [c["object"]["type"] for c in error["context"]] == ["instance", "instance.user"]
    assert_limited(send(world.as_bob), everyone)


# --- evaluation rules --------------------------------------------------------------------------


def test_user_limit_replaces_each_user_limit_of_the_same_scope(api: Api, world: World) -> None:
    each = add_limit(api, type="instance.each_user", name="Each user")
    jane = add_limit(api, type="instance.user", user_id=world.jane.pk, rate=4, name="Jane")
    for left in (3, 2, 1, 0):
        assert_ok(send(world.as_jane), 4, left)  # Jane gets 4, not the each-user 2
    assert_limited(send(world.as_jane), jane)  # and only her own limit is exceeded
    assert_ok(send(world.as_bob), 2, 1)  # everyone else keeps the each-user limit
    assert_ok(send(world.as_bob), 2, 0)
    assert_limited(send(world.as_bob), each)
    status, body = api.get(f"{LIMIT_CACHE}/{each['id']}")
    assert status == 200, body
    assert [(c["attempts"], c["max"]) for c in body["resource"]] == [(3, 2)]  # Bob's only


def test_user_limit_of_another_scope_does_not_replace_each_user_limit(
    api: Api, world: World
) -> None:
    each = add_limit(
        api, type="instance.each_user.service", service_id=world.service.pk, name="Each on shop"
    )
    jane = add_limit(api, type="instance.user", user_id=world.jane.pk, rate=10, name="Jane")
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), each)
    assert Limit.objects.filter(pk=jane["id"]).exists()


def test_admins_are_exempt(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance", name="Everyone")
    shop = add_limit(api, type="instance.service", service_id=world.service.pk, name="shop")
    for _ in range(4):
        response = send(api)
        assert_uncounted(response)
    assert_ok(send(world.as_jane), 2, 1)  # the admin's calls were not counted
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_bob), limit, shop)
    assert_uncounted(send(api))


def test_refused_calls_do_not_count(api: Api, world: World, anon: Api) -> None:
    limit = add_limit(api, type="instance", name="Everyone")
    for _ in range(3):
        assert send(anon).status_code == 401
        assert send(client_for("0" * 64)).status_code == 401
        assert send(world.as_carol, TODO, "POST", {"resource": [{"name": "x"}]}).status_code == 403
        assert send(client_for(None, world.as_jane.headers[TOKEN])).status_code == 401
    assert_ok(send(world.as_carol), 2, 1)
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), limit)
    # RBAC decides before the limits: over the limit, a forbidden call is still a 403
    response = send(world.as_carol, TODO, "POST", {"resource": [{"name": "x"}]})
    assert response.status_code == 403


def test_inactive_limit_does_not_count(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance", rate=1, is_active=False, name="Dormant")
    assert limit["is_active"] is False
    for _ in range(3):
        assert_uncounted(send(world.as_jane))
    status, body = api.patch(f"{LIMIT}/{limit['id']}", {"is_active": True})
    assert status == 200, body
    assert_ok(send(world.as_jane), 1, 0)  # the three calls before did not count
    assert_limited(send(world.as_jane), {**limit, "is_active": True})
    status, body = api.patch(f"{LIMIT}/{limit['id']}", {"is_active": False})
    assert status == 200, body
    assert_uncounted(send(world.as_jane))


def test_limit_changes_take_effect_at_once(api: Api, world: World) -> None:
    limit = add_limit(api, type="instance", name="Everyone")
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_jane), 2, 0)
    assert_limited(send(world.as_jane), limit)
    status, body = api.patch(f"{LIMIT}/{limit['id']}", {"rate": 5, "name": "Raised"})
    assert status == 200, body
    assert_ok(send(world.as_jane), 5, 1)  # 4 of 5: the refused call counted too
    assert_ok(send(world.as_jane), 5, 0)
    assert_limited(send(world.as_jane), {**limit, "rate": 5, "name": "Raised"})
    # a new limit counts from its creation; a deleted one no longer counts
    jane = add_limit(api, type="instance.user", user_id=world.jane.pk, rate=9, name="Jane")
    status, body = api.delete(f"{LIMIT}/{limit['id']}")
    assert status == 200, body
    assert_ok(send(world.as_jane), 9, 8)
    status, body = api.delete(f"{LIMIT}/{jane['id']}")
    assert status == 200, body
    assert_uncounted(send(world.as_jane))


def test_limit_change_made_by_another_instance_is_seen_through_the_metadata_version(
    api: Api, world: World, settings: Any
) -> None:
    from django.db.models import F

    from core.models import MetadataVersion

    settings.GATEWAY_METADATA_POLL_SECONDS = 0  # poll on every call rather than once a second
    limit = add_limit(api, type="instance", name="Everyone")
    assert_ok(send(world.as_jane), 2, 1)
    # another instance saves the limit (no signal here) and moves the shared version stamp
    Limit.objects.filter(pk=limit["id"]).update(rate=7)
    MetadataVersion.objects.filter(pk=1).update(version=F("version") + 1)
    assert_ok(send(world.as_jane), 7, 5)
    Limit.objects.filter(pk=limit["id"]).update(is_active=False)
    MetadataVersion.objects.filter(pk=1).update(version=F("version") + 1)
    assert_uncounted(send(world.as_jane))


def test_window_boundary_and_minute_headers(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = add_limit(api, type="instance", period="minute", name="Per minute")
    start = (int(time.time()) // 60 + 1) * 60  # the next minute: never before a token's iat
    freeze(monkeypatch, start + 45)
    assert_ok(send(world.as_jane), 2, 1)
    response = send(world.as_jane)
    assert_ok(response, 2, 0)
    assert response["X-RateLimit-Reset"] == str(start + 60)
    response = send(world.as_bob)
    error = assert_error(response.status_code, response.json(), 429, EXCEEDED)
    assert error["code"] == 429
    (entry,) = error["context"]
    assert (entry["id"], entry["name"]) == (limit["id"], "Per minute")
    assert entry["object"]["period"] == "minute"
    assert entry["object"]["rate"] == 2
    assert response["Retry-After"] == "15"
    assert response["X-RateLimit-Limit"] == "2"
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Reset"] == str(start + 60)
    freeze(monkeypatch, start + 59.5)
    response = send(world.as_jane)
    assert response.status_code == 429
    assert response["Retry-After"] == "1"  # never 0
    freeze(monkeypatch, start + 60)  # a new window: the counter starts again
    response = send(world.as_jane)
    assert_ok(response, 2, 1)
    assert response["X-RateLimit-Reset"] == str(start + 120)


def test_429_context_object_is_the_limit_record(api: Api, world: World) -> None:
    limit = add_limit(
        api,
        type="instance.user.service",
        user_id=world.jane.pk,
        service_id=world.service.pk,
        description="Jane may not hammer the shop",
        name="Jane on shop",
    )
    assert statuses(world.as_jane, 2) == [200, 200]
    error = assert_limited(send(world.as_jane), limit)
    shown = error["context"][0]["object"]
    assert {k: shown.get(k, "<missing>") for k in RECORD_FIELDS} == {
        k: limit[k] for k in RECORD_FIELDS
    }


# --- counters: system/limit_cache --------------------------------------------------------------


def entries(api: Api, path: str = LIMIT_CACHE) -> list[dict[str, Any]]:
    status, body = api.get(path)
    assert status == 200, body
    assert list(body) == ["resource"]
    for entry in body["resource"]:
        assert set(entry) == {"id", "key", "max", "attempts", "remaining"}, entry
    return list(body["resource"])


def attempts(api: Api, path: str = LIMIT_CACHE) -> list[tuple[int, int, int, int]]:
    """(limit id, max, attempts, remaining) of every counter, sorted."""
    return sorted((e["id"], e["max"], e["attempts"], e["remaining"]) for e in entries(api, path))


def test_limit_cache_shows_the_counters(api: Api, world: World) -> None:
    everyone = add_limit(api, type="instance", rate=10, name="Everyone")
    each = add_limit(api, type="instance.each_user", rate=3, name="Each user")
    assert attempts(api) == [(everyone["id"], 10, 0, 10)]  # nobody has called yet
    send(world.as_jane)
    send(world.as_jane)
    send(world.as_bob)
    send(world.as_app)  # counted by everyone, not by each user
    e, u = everyone["id"], each["id"]
    assert attempts(api) == [(e, 10, 4, 6), (u, 3, 1, 2), (u, 3, 2, 1)]
    found = entries(api)
    keys = [entry["key"] for entry in found]
    assert len(set(keys)) == 3 and all(isinstance(k, str) and k for k in keys)
    assert attempts(api, f"{LIMIT_CACHE}/{u}") == [(u, 3, 1, 2), (u, 3, 2, 1)]
    # over the limit: remaining stays at 0, attempts go on counting
    for _ in range(3):
        send(world.as_jane)
    assert attempts(api, f"{LIMIT_CACHE}/{u}") == [(u, 3, 1, 2), (u, 3, 5, 0)]
    status, body = api.get(f"{LIMIT_CACHE}/99999")
    assert_error(status, body, 404, "Record with identifier '99999' not found.")


def test_limit_records_embed_their_counters(api: Api, world: World) -> None:
    everyone = add_limit(api, type="instance", rate=10, name="Everyone")
    each = add_limit(api, type="instance.each_user", rate=3, name="Each user")
    send(world.as_jane)
    send(world.as_bob)
    send(world.as_bob)
    status, body = api.get(LIMIT, related=COUNTERS)
    assert status == 200, body
    embedded = {r["id"]: r[COUNTERS] for r in body["resource"]}
    shown = {
        pk: sorted((c["max"], c["attempts"], c["remaining"]) for c in v)
        for pk, v in embedded.items()
    }
    assert shown == {everyone["id"]: [(10, 3, 7)], each["id"]: [(3, 1, 2), (3, 2, 1)]}
    status, record = api.get(f"{LIMIT}/{each['id']}", related=COUNTERS)
    assert status == 200, record
    assert sorted(c["attempts"] for c in record[COUNTERS]) == [1, 2]
    status, record = api.get(f"{LIMIT}/{each['id']}")
    assert COUNTERS not in record


def test_resetting_one_limit(api: Api, world: World) -> None:
    everyone = add_limit(api, type="instance", rate=5, name="Everyone")
    each = add_limit(api, type="instance.each_user", name="Each user")
    assert statuses(world.as_jane, 3) == [200, 200, 429]
    assert statuses(world.as_bob, 1) == [200]
    status, body = api.delete(f"{LIMIT_CACHE}/{each['id']}")
    assert (status, body) == (200, {"id": each["id"]})
    e, u = everyone["id"], each["id"]
    assert attempts(api) == [(e, 5, 4, 1)]  # the other limit keeps its count
    assert_ok(send(world.as_jane), 5, 0)  # Jane may call again: her 1st of 2, the 5th of 5
    assert attempts(api) == [(e, 5, 5, 0), (u, 2, 1, 1)]
    status, body = api.delete(f"{LIMIT_CACHE}/99999")
    assert_error(status, body, 404, "Record with identifier '99999' not found.")


def test_resetting_all_limits_needs_force(api: Api, world: World) -> None:
    everyone = add_limit(api, type="instance", rate=4, name="Everyone")
    each = add_limit(api, type="instance.each_user", name="Each user")
    assert statuses(world.as_jane, 3) == [200, 200, 429]
    assert_ok(send(world.as_bob), 4, 0)
    assert_limited(send(world.as_bob), everyone)
    before = attempts(api)
    status, body = api.delete(LIMIT_CACHE)
    assert_error(
        status, body, 400, "Name a limit (limit_cache/{id}), or send force=true to reset all."
    )
    status, body = api.delete(LIMIT_CACHE, force="false")
    assert status == 400, body
    assert attempts(api) == before
    status, body = api.delete(LIMIT_CACHE, force="true")
    assert (status, body) == (200, {"success": True})
    assert attempts(api) == [(everyone["id"], 4, 0, 4)]
    assert_ok(send(world.as_jane), 2, 1)
    assert_ok(send(world.as_bob), 2, 1)
    e, u = everyone["id"], each["id"]
    assert attempts(api) == [(e, 4, 2, 2), (u, 2, 1, 1), (u, 2, 1, 1)]


# --- Redis: the counters every instance shares -------------------------------------------------


@pytest.fixture
def fresh_redis() -> Iterator[redis.Redis]:
    """A client of our own on the test Redis, as another gateway instance would have."""
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


def redis_key(limit: dict[str, Any], subject: str) -> str:
    """The Redis key of a limit's counter in the current window (with Django's KEY_PREFIX)."""
    rule = rule_of(limit)
    return str(
        cache.make_and_validate_key(counters.counter_key(rule, subject, counters.Window.of(rule)))
    )


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_redis_counters_are_shared(
    cache_backend: str, api: Api, world: World, fresh_redis: Any
) -> None:
    from services.registry import registry

    assert cache_backend == "redis"
    everyone = add_limit(api, type="instance", rate=6, name="Everyone")
    each = add_limit(api, type="instance.each_user", rate=3, name="Each user")
    send(world.as_jane)
    send(world.as_jane)
    send(world.as_bob)
    everyone_key = redis_key(everyone, "all")
    assert fresh_redis.get(everyone_key) == b"3"
    assert fresh_redis.get(redis_key(each, f"u{world.jane.pk}")) == b"2"
    assert fresh_redis.get(redis_key(each, f"u{world.bob.pk}")) == b"1"
    assert 0 < fresh_redis.ttl(everyone_key) <= HOUR + 60  # counters expire with their window
    # forgetting this process's limits (as a restart would) resets nothing
    rules.clear_cache()
    registry.invalidate()
    assert_ok(send(world.as_jane), 3, 0)
    assert fresh_redis.get(everyone_key) == b"4"
    # what another instance counts is counted here too
    fresh_redis.incr(everyone_key, 2)
    assert_limited(send(world.as_bob), everyone)
    assert attempts(api) == [
        (everyone["id"], 6, 7, 0),
        (each["id"], 3, 2, 1),
        (each["id"], 3, 3, 0),
    ]
    # and a reset here is a reset for every instance
    status, _ = api.delete(f"{LIMIT_CACHE}/{everyone['id']}")
    assert status == 200
    assert fresh_redis.get(everyone_key) is None


@pytest.mark.parametrize("cache_backend", ["redis"], indirect=True)
def test_redis_each_user_subjects_are_a_redis_set(
    cache_backend: str, api: Api, world: World, fresh_redis: Any
) -> None:
    assert cache_backend == "redis"
    each = add_limit(api, type="instance.each_user", rate=3, name="Each user")
    send(world.as_jane)
    send(world.as_bob)
    send(world.as_jane)
    rule = rule_of(each)
    members = cache.make_and_validate_key(counters.subjects_key(rule, counters.Window.of(rule)))
    assert fresh_redis.type(members) == b"set"
    assert fresh_redis.smembers(members) == {
        f"u{world.jane.pk}".encode(),
        f"u{world.bob.pk}".encode(),
    }
    assert 0 < fresh_redis.ttl(members) <= HOUR + 60


# --- the admin console -----------------------------------------------------------------------


def test_admin_changelist_shows_and_resets_counters(
    api: Api, world: World, admin_user: Any
) -> None:
    everyone = add_limit(api, type="instance", rate=5, name="Everyone")
    each = add_limit(api, type="instance.each_user", name="Each user")
    send(world.as_jane)
    send(world.as_jane)
    send(world.as_bob)
    staff = Client()
    staff.force_login(admin_user)
    page = staff.get("/admin/limits/limit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "This window (attempts / rate)" in text
    assert "everyone: 3/5" in text
    assert f"user {world.jane.pk}: 2/2" in text
    assert f"user {world.bob.pk}: 1/2" in text
    assert_limited(send(world.as_jane), each)
    response = staff.post(
        "/admin/limits/limit/",
        {"action": "reset_counters", "_selected_action": [str(each["id"])]},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Counters reset for 1 limit(s)."]
    text = staff.get("/admin/limits/limit/").content.decode()
    assert "everyone: 4/5" in text  # the other limit keeps its count
    assert f"user {world.jane.pk}:" not in text
    assert f"user {world.bob.pk}:" not in text
    assert_ok(send(world.as_jane), 5, 0)  # Jane may call again: 1 of 2 for her, 5 of 5 in all
    assert attempts(api) == [(everyone["id"], 5, 5, 0), (each["id"], 2, 1, 1)]


def test_admin_form_uses_the_system_api_checks(admin_user: Any, service: Any) -> None:
    staff = Client()
    staff.force_login(admin_user)
    form = {
        "name": "Nobody",
        "description": "",
        "is_active": "on",
        "type": "instance.user",
        "rate": "5",
        "period": "1",
        "endpoint": "",
        "verb": "",
    }
    response = staff.post("/admin/limits/limit/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "user_id must be specified with this limit type. Limit: Nobody" in (
        response.content.decode()
    )
    assert not Limit.objects.exists()
    response = staff.post("/admin/limits/limit/add/", {**form, "type": "instance"})
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Limit.objects.get()
    assert (saved.type, saved.rate, saved.period_name) == ("instance", 5, "hour")


# --- leases: Redis counts reserved in blocks by each process ----------------------------------


def _rule(rate: int) -> Any:
    from limits.rules import LimitRule

    return LimitRule(7, "leased", "instance", rate, 1, None, None, None, "", "")


@pytest.mark.parametrize("rate", [1, 5, 31, 1000, 5000])
def test_leases_never_let_more_calls_through_than_the_rate(
    cache_backend: str, rate: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three "processes" (each its own lease table) share one counter: never more than `rate`
    calls pass, and near the limit (small rates) exactly `rate` do."""
    from limits import counters

    tables: list[dict[str, Any]] = [{}, {}, {}]
    passed = 0
    rule = _rule(rate)
    for call in range(rate + 300):
        monkeypatch.setattr(counters._leases, "by_key", tables[call % 3])
        if counters.hit([(rule, "all")], now=1_000.0)[0] <= rate:
            passed += 1
    assert passed <= rate
    if cache_backend == "locmem" or rate < counters.LEASE_SHARE * 2:
        assert passed == rate
    else:  # what other processes still held at the end is at most their open leases
        assert passed >= rate - 3 * counters.LEASE_MAX


def test_far_from_the_limit_a_process_asks_redis_once_per_lease(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leases are for the shared counters: only on Redis."""
    prefix = f"lease{uuid.uuid4().hex[:8]}"
    settings.CACHES = redis_caches(prefix)
    monkeypatch.setattr("limits.counters._leases.by_key", {})
    from core import redis_client
    from limits import counters

    client = redis_client.client()
    assert client is not None
    calls = 0
    real = client.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "pipeline", counting_pipeline)
    rule = _rule(1_000_000)
    for _ in range(640):
        counters.hit([(rule, "all")])
    assert calls <= 12  # 1 exact first call, then leases of LEASE_MAX
    assert counters.current(rule)[0][1] >= 640  # the counter shows the calls reserved
    drop_redis_prefix(prefix)
