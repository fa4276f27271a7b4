"""POST /_sql: off by default, parameters bound server-side, read-only unless allowed to write."""

from __future__ import annotations

from typing import Any

import pytest

from rbac.policy import Grant
from services.execution.sql_query import run_sql
from services.plan.parse_resources import parse_sql
from services.registry import registry

pytestmark = pytest.mark.django_db

SQL = "/api/v2/shop/_sql"


@pytest.fixture
def sql_api(api: Any, service: Any) -> Any:
    service.allow_sql = True
    service.save()
    return api


def test_off_by_default(api: Any) -> None:
    status, body = api.post(SQL, {"query": "SELECT 1"})
    assert status == 403
    assert "allow_sql" in body["error"]["message"]


def test_select_with_bound_parameters(sql_api: Any) -> None:
    status, body = sql_api.post(
        SQL,
        {
            "query": "SELECT id, name, complete FROM todo WHERE id > $1 AND name <> $2 ORDER BY id",
            "params": [2, "test4"],
        },
    )
    assert status == 200, body
    assert body["resource"] == [
        {"id": 3, "name": "test3", "complete": None},
        {"id": 5, "name": "test5", "complete": True},
    ]
    assert body["meta"] == {"count": 2, "columns": ["id", "name", "complete"]}


def test_types_come_back_as_json(sql_api: Any) -> None:
    status, body = sql_api.post(
        SQL,
        {
            "query": "SELECT 12345678901234567890.123456789::numeric AS n,"
            " '{\"a\":[1]}'::jsonb AS j,"
            " '2026-11-22 10:30:00+00'::timestamptz AS ts, '\\x00ff'::bytea AS b, ARRAY[1,2] AS a,"
            " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u"
        },
    )
    assert status == 200, body
    row = body["resource"][0]
    assert row["j"] == {"a": [1]}
    assert row["ts"].startswith("2026-11-22T10:30:00")
    assert row["b"] == "AP8="
    assert row["a"] == [1, 2]
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"


def test_exact_numeric_digits_in_the_raw_body(sql_api: Any) -> None:
    response = sql_api.client.post(
        SQL,
        data={"query": "SELECT 12345678901234567890.123456789::numeric AS n"},
        content_type="application/json",
        headers=sql_api.headers,
    )
    assert b'"n":12345678901234567890.123456789' in response.content


@pytest.mark.parametrize(
    "attack",
    [
        "x' OR '1'='1",
        "'; DROP TABLE todo; --",
        "$1",
        "test1\\' OR 1=1 --",
    ],
)
def test_parameters_are_never_spliced(sql_api: Any, pg: Any, attack: str) -> None:
    status, body = sql_api.post(
        SQL, {"query": "SELECT id FROM todo WHERE name = $1", "params": [attack]}
    )
    assert (status, body["resource"]) == (200, [])
    assert pg.execute("SELECT count(*) FROM todo").fetchone() == (5,)


def test_only_one_statement(sql_api: Any, pg: Any) -> None:
    status, body = sql_api.post(SQL, {"query": "SELECT 1; DELETE FROM todo", "params": []})
    assert status == 400
    assert pg.execute("SELECT count(*) FROM todo").fetchone() == (5,)


def test_admin_may_write_and_sees_affected_rows(sql_api: Any, pg: Any) -> None:
    status, body = sql_api.post(
        SQL, {"query": "UPDATE todo SET complete = $1 WHERE id = $2", "params": [True, 1]}
    )
    assert status == 200, body
    assert body["resource"] == [] and body["meta"]["affected"] == 1
    assert pg.execute("SELECT complete FROM todo WHERE id = 1").fetchone() == (True,)


def _call(service: Any, verbs: int, body: Any) -> Any:
    """The execute stage of `_sql` for a caller whose grant has these verbs."""
    live = registry.get(service.name)
    return run_sql(live, parse_sql("POST", ("_sql",), {}, body), Grant(verbs=verbs))


def test_read_only_grant_cannot_write_and_nothing_changes(
    sql_api: Any, service: Any, pg: Any
) -> None:
    from core.errors import Forbidden

    out = _call(service, 1, {"query": "SELECT count(*) AS n FROM todo", "params": []})
    assert b'"n":5' in out
    for statement in (
        "DELETE FROM todo",
        "INSERT INTO todo (name) VALUES ('sneaky')",
        "WITH d AS (DELETE FROM todo RETURNING id) SELECT count(*) FROM d",
        "SELECT nextval('todo_id_seq')",
    ):
        with pytest.raises(Forbidden) as caught:
            _call(service, 1, {"query": statement, "params": []})
        assert "may only read" in caught.value.message
    assert pg.execute("SELECT count(*) FROM todo").fetchone() == (5,)


def test_session_settings_do_not_leak_into_the_pool(sql_api: Any, service: Any) -> None:
    status, _ = sql_api.post(SQL, {"query": "SET statement_timeout = 1", "params": []})
    assert status == 200
    status, body = sql_api.post(SQL, {"query": "SHOW statement_timeout", "params": []})
    assert body["resource"][0]["statement_timeout"] != "1ms"


def test_row_cap_and_timeout(sql_api: Any, service: Any) -> None:
    service.max_records = 3
    service.statement_timeout = 100
    service.save()
    status, body = sql_api.post(SQL, {"query": "SELECT g FROM generate_series(1, 10) g"})
    assert status == 200
    assert [r["g"] for r in body["resource"]] == [1, 2, 3]
    assert body["meta"]["truncated"] is True
    status, body = sql_api.post(SQL, {"query": "SELECT pg_sleep(2)"})
    assert status == 504


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"params": []}, "non-empty 'query'"),
        ({"query": ""}, "non-empty 'query'"),
        ({"query": "SELECT $1", "params": {"a": 1}}, "array"),
        ([{"query": "SELECT 1"}], "JSON object"),
        ({"query": "SELEC 1"}, "Syntax error"),
        ({"query": "SELECT nope FROM todo"}, "nope"),
    ],
)
def test_bad_requests_are_clear(sql_api: Any, body: Any, fragment: str) -> None:
    status, answer = sql_api.post(SQL, body)
    assert status == 400, answer
    assert fragment in answer["error"]["message"]


def test_get_and_missing_body(sql_api: Any) -> None:
    assert sql_api.get(SQL)[0] == 400
    status, body = sql_api.call("POST", SQL, raw=b"")
    assert status == 400 and "JSON object" in body["error"]["message"]
