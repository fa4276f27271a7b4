"""`_sql` verbs: GET runs a statement read-only, POST may write, and each needs its own verb on
the `_sql` component of the caller's role."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
import pytest

from core.verbs import GET, POST
from tests.conftest import Api, assert_error, client_for, make_app, make_role

pytestmark = pytest.mark.django_db

SQL = "/api/v2/shop/_sql"
COUNT = {"query": "SELECT count(*) AS n FROM todo WHERE id > $1", "params": [0]}
DELETE = {"query": "DELETE FROM todo WHERE id = $1", "params": [1]}


@pytest.fixture
def sql_on(service: Any) -> Any:
    service.allow_sql = True
    service.save()
    return service


def _client(service: Any, verbs: int) -> Api:
    role = make_role(
        f"sql {verbs}", [{"service": service, "component": "_sql", "verb_mask": verbs}]
    )
    _app, key = make_app(f"sql app {verbs}", role)
    return client_for(api_key=key)


def _get(client: Api, body: dict[str, Any]) -> tuple[int, Any]:
    """GET with the statement in the query string."""
    params = orjson.dumps(body["params"]).decode()
    return client.get(SQL, query=quote(body["query"]), params=quote(params))


def _todo_count(pg: Any) -> int:
    return int(pg.execute("SELECT count(*) FROM todo").fetchone()[0])


def test_a_get_only_role_reads_through_get(sql_on: Any, pg: Any) -> None:
    reader = _client(sql_on, GET)
    status, body = _get(reader, COUNT)
    assert status == 200, body
    assert body["resource"] == [{"n": 5}]
    # the same statement as a body, tunnelled through POST (DF's way to send a long read)
    status, body = reader.post(SQL, COUNT, headers={"X-HTTP-Method": "GET"})
    assert status == 200, body
    assert body["resource"] == [{"n": 5}]


def test_a_get_only_role_can_not_write_and_nothing_changes(sql_on: Any, pg: Any) -> None:
    reader = _client(sql_on, GET)
    for statement in (
        DELETE,
        {"query": "WITH d AS (DELETE FROM todo RETURNING id) SELECT count(*) FROM d", "params": []},
        {"query": "SELECT nextval('todo_id_seq')", "params": []},
    ):
        status, body = _get(reader, statement)
        error = assert_error(
            status,
            body,
            403,
            "This caller may only read through _sql (the statement tried to write); writing"
            " needs POST on the _sql component.",
            prefix=True,
        )
        assert error["code"] == "25006"
    # POST itself is refused by the role before anything runs (401: an app-only caller)
    status, body = reader.post(SQL, DELETE)
    assert status == 401 and body["error"]["context"]["verb"] == "POST", body
    assert _todo_count(pg) == 5


def test_post_writes_for_a_role_with_post(sql_on: Any, pg: Any) -> None:
    writer = _client(sql_on, POST)
    status, body = writer.post(SQL, DELETE)
    assert status == 200, body
    assert body["meta"]["affected"] == 1
    assert _todo_count(pg) == 4
    # the POST-only role has no GET: reading through GET is refused
    status, body = _get(writer, COUNT)
    assert status == 401 and body["error"]["context"]["verb"] == "GET", body


def test_get_stays_read_only_for_a_role_that_may_also_post(sql_on: Any, pg: Any) -> None:
    both = _client(sql_on, GET | POST)
    status, body = _get(both, DELETE)
    assert_error(
        status,
        body,
        400,
        "GET /_sql runs statements read-only and this statement tried to write; send it with"
        " POST instead.",
        prefix=True,
    )
    assert _todo_count(pg) == 5


def test_admin_get_is_read_only_too(sql_on: Any, api: Api, pg: Any) -> None:
    status, body = _get(api, DELETE)
    assert status == 400, body
    assert "send it with POST" in body["error"]["message"]
    status, body = api.post(SQL, DELETE)
    assert status == 200, body
    assert _todo_count(pg) == 4


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "needs a 'query' parameter"),
        ({"query": "SELECT%201", "params": "not-json"}, "JSON array"),
        ({"query": "SELECT%201", "params": quote('{"a":1}')}, "must be an array"),
    ],
)
def test_bad_get_requests_are_clear(
    sql_on: Any, api: Api, params: dict[str, str], fragment: str
) -> None:
    status, body = api.get(SQL, **params)
    assert status == 400, body
    assert fragment in body["error"]["message"]


def test_other_verbs_say_which_to_use(sql_on: Any, api: Api) -> None:
    status, body = api.delete(SQL, DELETE)
    assert status == 400, body
    assert "GET runs a read-only statement, POST one that may write" in body["error"]["message"]
