"""Bulk creates: POST /_table/{t} with many records goes in chunks, with today's batch semantics.

A failed chunk is bisected under savepoints down to single records, which report their error
as the per-record path does; with continue=true every good record is written.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from psycopg import sql

from core.verbs import ALL_VERBS
from services.execution.bulk import CHUNK_ROWS, COPY_MIN_ROWS, Chunk, plan_chunks
from services.plan.bind_batch import Span
from tests.conftest import assign_role, client_for, login, make_app, make_role, make_user

pytestmark = pytest.mark.django_db

URL = "/api/v2/shop/_table/bulk_items"
DEFAULT_DAY = datetime.date(2000, 1, 1)


@pytest.fixture
def items(pg: Any) -> Any:
    """bulk_items emptied, identity restarted: the n-th created record gets id n + 1."""
    pg.execute("TRUNCATE bulk_items RESTART IDENTITY")
    return pg


def record(i: int) -> dict[str, Any]:
    return {"sku": f"s{i}", "qty": i % 50, "price": f"{i}.25", "note": f"n,{i}'\"\n"}


def skus(pg: Any) -> list[str]:
    return [r[0] for r in pg.execute("SELECT sku FROM bulk_items ORDER BY id").fetchall()]


def batch_error(body: Any) -> dict[str, Any]:
    assert body["error"]["code"] == 1000, body
    return body["error"]["context"]  # type: ignore[no-any-return]


def test_100k_records_are_created_in_order(api: Any, items: Any) -> None:
    n = 100_000
    status, body = api.post(URL, {"resource": [record(i) for i in range(n)]})
    assert status == 200, str(body)[:500]
    assert body["resource"] == [{"id": i + 1} for i in range(n)]
    assert items.execute("SELECT count(*), count(DISTINCT sku) FROM bulk_items").fetchone() == (
        n,
        n,
    )
    for i in (0, 1, 1999, 2000, 54_321, n - 1):
        row = items.execute(
            "SELECT sku, qty, price, note, created_on FROM bulk_items WHERE id = %s", [i + 1]
        ).fetchone()
        assert row == (f"s{i}", i % 50, Decimal(f"{i}.25"), f"n,{i}'\"\n", DEFAULT_DAY)


def test_100k_rollback_failing_at_the_last_record_writes_nothing(api: Any, items: Any) -> None:
    n = 100_000
    records = [record(i) for i in range(n)]
    records[-1]["sku"] = "s0"  # a duplicate key, found only by PostgreSQL
    status, body = api.post(URL, {"resource": records}, rollback="true")
    assert status == 400
    assert body["error"]["message"] == (
        "Batch Error: Not all requested records could be created. All changes rolled back."
    )
    ctx = batch_error(body)
    assert ctx["error"] == [n - 1]
    assert ctx["written"] == []
    assert len(ctx["resource"]) == n
    assert ctx["resource"][n - 1]["code"] == "23505"
    assert "bulk_items_sku_key" in ctx["resource"][n - 1]["message"]
    assert all("id" in r for r in ctx["resource"][: n - 1])
    assert skus(items) == []


def test_an_integer_of_thousands_of_digits_is_that_records_400(api: Any, items: Any) -> None:
    records = [{**record(i), "qty": str(i)} for i in range(3_000)]  # the column-wise path
    records[2_500]["qty"] = "9" * 5_000  # int() of a string this long raises ValueError
    status, body = api.post(URL, records, rollback="1")
    ctx = batch_error(body)
    assert ctx["error"] == [2_500] and ctx["written"] == []
    assert ctx["resource"][2_500]["message"] == "Field 'qty' is out of range for type integer."
    assert skus(items) == []


def test_rollback_with_a_record_invalid_at_bind_writes_nothing(api: Any, items: Any) -> None:
    records = [record(i) for i in range(5_000)]
    records[4_321] = {"sku": None}
    status, body = api.post(URL, records, rollback="1")
    ctx = batch_error(body)
    assert ctx["error"] == [4_321] and ctx["written"] == []
    assert ctx["resource"][4_321]["message"] == "Field 'sku' can not be NULL."
    assert skus(items) == []


def test_default_mode_failing_mid_chunk_keeps_exactly_the_earlier_records(
    api: Any, items: Any
) -> None:
    n, bad = 3 * CHUNK_ROWS, CHUNK_ROWS + CHUNK_ROWS // 2 + 7
    records = [record(i) for i in range(n)]
    records[bad]["qty"] = -1  # CHECK (qty >= 0): only PostgreSQL knows
    status, body = api.post(URL, {"resource": records})
    assert status == 400
    assert body["error"]["message"] == "Batch Error: Not all requested records could be created."
    ctx = batch_error(body)
    assert ctx["error"] == [bad]
    assert ctx["written"] == list(range(bad))
    assert len(ctx["resource"]) == bad + 1  # nothing after the stop point
    assert ctx["resource"][bad]["code"] == "23514"
    assert skus(items) == [f"s{i}" for i in range(bad)]
    ids = [r["id"] for r in ctx["resource"][:bad]]
    assert [r[0] for r in items.execute("SELECT id FROM bulk_items ORDER BY id")] == ids


def test_default_mode_invalid_record_stops_after_the_chunks_before_it(api: Any, items: Any) -> None:
    records = [record(i) for i in range(CHUNK_ROWS + 100)]
    records[CHUNK_ROWS + 50]["qty"] = "many"
    status, body = api.post(URL, records)
    ctx = batch_error(body)
    assert ctx["error"] == [CHUNK_ROWS + 50]
    assert ctx["resource"][-1]["message"] == "Field 'qty' must be a valid integer."
    assert ctx["written"] == list(range(CHUNK_ROWS + 50))
    assert len(skus(items)) == CHUNK_ROWS + 50


def test_default_mode_failing_first_record_keeps_nothing(api: Any, items: Any) -> None:
    records = [record(i) for i in range(100)]
    records[0]["qty"] = -5
    status, body = api.post(URL, records)
    ctx = batch_error(body)
    assert ctx["error"] == [0] and ctx["written"] == []
    assert skus(items) == []


def test_continue_mode_reports_each_failure_at_its_index(api: Any, items: Any) -> None:
    records = [record(i) for i in range(60)]
    records[5]["qty"] = -1
    records[30]["sku"] = "s0"
    records[41] = {"qty": 3}  # invalid at bind: sku is required
    status, body = api.post(URL, {"resource": records}, **{"continue": "true"})
    ctx = batch_error(body)
    assert ctx["error"] == [5, 30, 41]
    assert ctx["written"] == [i for i in range(60) if i not in (5, 30, 41)]
    assert ctx["resource"][41]["message"] == "Required field 'sku' can not be NULL."
    assert len(skus(items)) == 57


def alone(api: Any, one: dict[str, Any]) -> dict[str, Any]:
    """The error the per-record path gives for one record (a one-record POST)."""
    status, body = api.post(URL, [one])
    assert status == 400, body
    return batch_error(body)["resource"][0]  # type: ignore[no-any-return]


def ids_by_sku(pg: Any) -> dict[str, int]:
    return dict(pg.execute("SELECT sku, id FROM bulk_items").fetchall())


def test_continue_finds_every_bad_record_in_any_chunk_and_writes_the_rest(
    api: Any, items: Any
) -> None:
    n = 2 * CHUNK_ROWS + 300
    records = [record(i) for i in range(n)]
    bad: dict[int, dict[str, Any]] = {
        5: {"qty": -1},  # CHECK: the INSERT fails
        CHUNK_ROWS - 1: {"sku": "s0"},  # duplicate key, last record of the first chunk
        CHUNK_ROWS: {"created_on": "not a day"},  # COPY fails, first record of the second
        CHUNK_ROWS + 17: {"qty": "many"},  # refused while binding
        CHUNK_ROWS + 18: {"price": "1234567890123.00"},  # numeric(12, 2) overflows in COPY
        2 * CHUNK_ROWS + 299: {"qty": -2},  # the very last record
    }
    for index, change in bad.items():
        records[index].update(change)
    status, body = api.post(URL, {"resource": records}, **{"continue": "true"})
    assert status == 400
    assert body["error"]["message"] == "Batch Error: Not all requested records could be created."
    ctx = batch_error(body)
    assert ctx["error"] == sorted(bad)
    assert ctx["written"] == [i for i in range(n) if i not in bad]
    assert len(ctx["resource"]) == n
    written = ids_by_sku(items)
    good = [records[i]["sku"] for i in ctx["written"]]
    assert skus(items) == good  # all the good ones, in order, and nothing else
    assert [ctx["resource"][i]["id"] for i in ctx["written"]] == [written[s] for s in good]
    # each failure reads exactly as the same record gives it alone
    items.execute("DELETE FROM bulk_items WHERE sku <> 's0'")
    for index in sorted(bad):
        assert ctx["resource"][index] == alone(api, records[index]), index


@pytest.mark.parametrize(
    ("change", "found_by"),
    [
        ({"qty": -1}, "23514"),  # by the INSERT (a CHECK constraint)
        ({"created_on": "2026-02-30"}, "22008"),  # by COPY (the column's input function)
        ({"qty": "many"}, "Field 'qty' must be a valid integer."),  # while binding
    ],
)
@pytest.mark.parametrize("mode", ["stop", "rollback", "continue"])
def test_5000_records_with_one_bad_value_in_the_middle(
    api: Any, items: Any, mode: str, change: dict[str, Any], found_by: str
) -> None:
    n, bad = 5_000, 2_345
    records = [record(i) for i in range(n)]
    records[bad].update(change)
    query = {} if mode == "stop" else {mode: "true"}
    status, body = api.post(URL, {"resource": records}, **query)
    assert status == 400
    ctx = batch_error(body)
    assert ctx["error"] == [bad]
    failure = ctx["resource"][bad]
    assert found_by in (failure["code"], failure["message"])
    if mode == "continue":
        assert len(ctx["resource"]) == n
        assert ctx["written"] == [i for i in range(n) if i != bad]
        assert skus(items) == [f"s{i}" for i in range(n) if i != bad]
    else:
        assert len(ctx["resource"]) == bad + 1  # nothing after the stop point
        assert all("id" in r for r in ctx["resource"][:bad])
        kept = [] if mode == "rollback" else list(range(bad))
        assert ctx["written"] == kept
        assert skus(items) == [f"s{i}" for i in kept]
    rolled_back = " All changes rolled back." if mode == "rollback" else ""
    assert body["error"]["message"] == (
        f"Batch Error: Not all requested records could be created.{rolled_back}"
    )
    assert failure == alone(api, records[bad])


def test_continue_with_every_other_record_bad_writes_every_good_one(api: Any, items: Any) -> None:
    records = [record(i) for i in range(300)]
    for i in range(1, 300, 2):
        records[i]["qty"] = -1
    status, body = api.post(URL, records, **{"continue": "true"})
    ctx = batch_error(body)
    assert ctx["error"] == list(range(1, 300, 2))
    assert skus(items) == [f"s{i}" for i in range(0, 300, 2)]
    assert {r["code"] for r in ctx["resource"][1::2]} == {"23514"}


def test_continue_with_mixed_records(api: Any, items: Any) -> None:
    records: list[Any] = [record(i) for i in range(100)]
    records[10:10] = [{"sku": "short", "qty": -3}, {"sku": "short2"}]  # short runs, one bad
    records[50] = "not a record"
    records[60] = {"sku": "s59", "unknown": 1}  # the next record (record(59)) repeats its sku
    status, body = api.post(URL, records, **{"continue": "true"})
    ctx = batch_error(body)
    assert ctx["error"] == [10, 50, 61]
    assert ctx["resource"][50]["message"] == "Each record must be a JSON object."
    assert ctx["resource"][61]["code"] == "23505"
    good = [r["sku"] for i, r in enumerate(records) if i not in (10, 50, 61)]
    assert skus(items) == good


@pytest.mark.parametrize("mode", ["stop", "rollback"])
def test_a_failure_found_by_postgresql_wins_over_a_later_chunks_bind_error(
    api: Any, items: Any, mode: str
) -> None:
    """The next chunk is bound while PostgreSQL inserts this one: its bind error must not
    count when this chunk fails first."""
    records = [record(i) for i in range(2 * CHUNK_ROWS)]
    records[CHUNK_ROWS - 3]["qty"] = -1  # found by PostgreSQL, in the first chunk
    records[CHUNK_ROWS + 2]["qty"] = "many"  # found while binding the second chunk
    query = {} if mode == "stop" else {mode: "true"}
    status, body = api.post(URL, records, **query)
    ctx = batch_error(body)
    assert ctx["error"] == [CHUNK_ROWS - 3]
    assert len(ctx["resource"]) == CHUNK_ROWS - 2
    kept = list(range(CHUNK_ROWS - 3)) if mode == "stop" else []
    assert ctx["written"] == kept
    assert skus(items) == [f"s{i}" for i in kept]


def test_continue_with_a_whole_span_that_does_not_bind(api: Any, items: Any) -> None:
    records: list[Any] = [record(i) for i in range(500)]
    records[100:300] = [{"qty": i, "note": "no sku"} for i in range(200)]  # sku is required
    status, body = api.post(URL, records, **{"continue": "true"})
    ctx = batch_error(body)
    assert ctx["error"] == list(range(100, 300))
    assert {r["message"] for r in ctx["resource"][100:300]} == {
        "Required field 'sku' can not be NULL."
    }
    assert skus(items) == [r["sku"] for r in records if "sku" in r]


@pytest.mark.parametrize("mode", ["stop", "continue"])
def test_records_bound_one_by_one_take_the_same_path(items: Any, service: Any, mode: str) -> None:
    """insert_batch on a BoundWrite whose records are plain BoundRecords (not BoundCreates)."""
    from dataclasses import replace

    from services.db import executor
    from services.execution.bulk import insert_batch
    from services.execution.tables import _apply
    from services.plan.bind import bind_plan
    from services.plan.types import BoundWrite, TableWrite
    from services.registry import registry

    live = registry.get("shop")
    records: list[Any] = [record(i) for i in range(3 * COPY_MIN_ROWS)]
    records[5]["qty"] = -1  # PostgreSQL refuses it
    records[7] = {"qty": 1}  # does not bind
    plan = TableWrite(table="bulk_items", action="create", records=tuple(records))
    bound = bind_plan(replace(plan, mode="continue" if mode == "continue" else "stop"), live)
    assert isinstance(bound, BoundWrite)
    write = replace(bound, records=tuple(bound.records))
    with executor.connection(live, write=True) as conn:
        results = insert_batch(conn, write, lambda r: _apply(conn, write, r, None))
    failed = [i for i, r in enumerate(results) if not isinstance(r, str)]
    if mode == "stop":
        assert failed == [5] and len(results) == 6
        assert skus(items) == [f"s{i}" for i in range(5)]
    else:
        assert failed == [5, 7] and len(results) == len(records)
        assert skus(items) == [r["sku"] for i, r in enumerate(records) if i not in (5, 7)]


@pytest.fixture
def clerk(service: Any) -> Any:
    """A user whose role may create bulk_items only with qty 7."""
    rules = [
        {
            "service": service,
            "component": "_table/bulk_items/*",
            "verb_mask": ALL_VERBS,
            "filters": [{"name": "qty", "operator": "=", "value": "7"}],
        }
    ]
    role = make_role("bulk clerk", rules)
    app, key = make_app("bulk app", role)
    assign_role(make_user("bulk@example.com", "user-password-123"), app, role)
    return client_for(key, login("bulk@example.com", "user-password-123", key))


def test_continue_refuses_each_record_outside_the_role_filter(clerk: Any, items: Any) -> None:
    records = [{"sku": f"s{i}", "qty": 7} for i in range(3_000)]
    for i in (0, 1_500, 2_999):
        records[i]["qty"] = 8
    status, body = clerk.post(URL, records, **{"continue": "true"})
    ctx = batch_error(body)
    assert ctx["error"] == [0, 1_500, 2_999]
    assert {ctx["resource"][i]["message"] for i in (0, 1_500, 2_999)} == {
        "Denied access to some of the requested fields."
    }
    assert skus(items) == [f"s{i}" for i in range(3_000) if i not in (0, 1_500, 2_999)]


def test_records_with_different_columns_keep_their_defaults(api: Any, items: Any) -> None:
    records: list[dict[str, Any]] = []
    records += [{"sku": f"a{i}", "qty": 7, "note": "given"} for i in range(40)]  # COPY run
    records += [{"sku": f"b{i}"} for i in range(3)]  # short run: one by one
    records += [{"note": None, "sku": f"c{i}"} for i in range(20)]  # explicit NULL, not default
    records += [{"sku": f"d{i}", "created_on": "2024-02-29"} for i in range(30)]
    records += [{"sku": f"e{i}", "qty": i} if i % 2 else {"sku": f"e{i}"} for i in range(10)]
    status, body = api.post(URL, records, fields="sku,qty,note,created_on")
    assert status == 200, body
    rows = items.execute("SELECT sku, qty, note, created_on FROM bulk_items ORDER BY id").fetchall()
    day = datetime.date(2024, 2, 29)
    want = [(f"a{i}", 7, "given", DEFAULT_DAY) for i in range(40)]
    want += [(f"b{i}", 1, "none", DEFAULT_DAY) for i in range(3)]
    want += [(f"c{i}", 1, None, DEFAULT_DAY) for i in range(20)]
    want += [(f"d{i}", 1, "none", day) for i in range(30)]
    want += [(f"e{i}", i if i % 2 else 1, "none", DEFAULT_DAY) for i in range(10)]
    assert rows == want
    assert body["resource"] == [
        {"sku": s, "qty": q, "note": n, "created_on": d.isoformat()} for s, q, n, d in want
    ]


def test_values_keep_their_types_through_copy(api: Any, items: Any) -> None:
    one = (
        '{"sku": "t%d", "price": 12345678.99, "created_on": "2026-01-31",'
        ' "tags": ["a,b", "q\\"uote", "back\\\\slash", null, "{brace}"],'
        ' "meta": {"price": 0.1000000000000000055511151231257827, "tags": ["x", null]},'
        ' "note": "tab\\there \\\\N not null"}'
    )
    raw = "[" + ",".join(one % i for i in range(COPY_MIN_ROWS * 2)) + "]"
    status, body = api.post(URL, raw=raw, fields="*")
    assert status == 200, body
    tags = ["a,b", 'q"uote', "back\\slash", None, "{brace}"]
    row = items.execute(
        "SELECT price, tags, meta::text, created_on, note FROM bulk_items WHERE sku = 't3'"
    ).fetchone()
    assert row == (
        Decimal("12345678.99"),
        tags,
        '{"tags": ["x", null], "price": 0.1000000000000000055511151231257827}',
        datetime.date(2026, 1, 31),
        "tab\there \\N not null",
    )
    assert body["resource"][3]["tags"] == tags


def test_bad_value_found_by_postgresql_in_a_copy_chunk(api: Any, items: Any) -> None:
    records = [{"sku": f"v{i}", "created_on": "2026-01-01"} for i in range(100)]
    records[60]["created_on"] = "not a day"
    status, body = api.post(URL, records, rollback="true")
    ctx = batch_error(body)
    assert ctx["error"] == [60] and ctx["resource"][60]["code"] == "22007"
    assert skus(items) == []


def test_plan_chunks(api: Any) -> None:
    from services.registry import registry

    table = registry.get("shop").schema().table("bulk_items")
    sku = (table.column("sku"),)
    big = CHUNK_ROWS + 5
    spans = [Span(0, big, sku), Span(big, big + 3, sku), Span(big + 3, big + 5, sku)]
    assert plan_chunks(spans) == [
        Chunk(0, CHUNK_ROWS, sku),
        Chunk(CHUNK_ROWS, big, sku),
        Chunk(big, big + 5, None),  # two short spans share one record-by-record chunk
    ]
    # a record that is no object (no columns) goes one by one, whatever follows it
    spans = [Span(0, 1, ()), Span(1, 1 + COPY_MIN_ROWS, sku), Span(1 + COPY_MIN_ROWS, 40, ())]
    assert plan_chunks(spans) == [
        Chunk(0, 1, None),
        Chunk(1, 1 + COPY_MIN_ROWS, sku),
        Chunk(1 + COPY_MIN_ROWS, 40, None),
    ]
    assert plan_chunks([]) == []


ALL_TYPES = {
    "i2": 7,
    "i4": "42",
    "i8": 9007199254740993,
    "num": "123.456000",
    "num_scaled": 1.5,
    "f4": 1.25,
    "f8": "-0.5e-3",
    "cash": "12.34",
    "flag": "yes",
    "txt": 'line\nbreak, "quoted" \\ back',
    "vc": "short",
    "ch": "ab",
    "uid": "6F1C9B1E-4A0C-4B8E-9D51-2C1C7F0A1B2C",
    "d": "2026-02-28",
    "t": "13:14:15.5",
    "ts": "2026-01-02T03:04:05",
    "tstz": "2026-01-02T03:04:05+02:00",
    "js": {"a": [1, "two", None]},
    "jsb": "[1, 2]",
    "int_arr": [1, None, 3],
    "text_arr": '{x,"y z"}',
    "bin": "AAEC/w==",
    "feeling": "ok",
    "ival": "1 day 02:00:00",
}


def test_copy_chunks_store_what_the_single_record_path_stores(api: Any, pg: Any) -> None:
    status, body = api.post("/api/v2/shop/_table/all_types", [ALL_TYPES])
    assert status == 200, body
    status, body = api.post("/api/v2/shop/_table/all_types", [ALL_TYPES] * COPY_MIN_ROWS)
    assert status == 200, body
    ids = [body["resource"][0]["id"], body["resource"][-1]["id"]]
    rows = pg.execute(
        "SELECT row_to_json(a)::jsonb - 'id' FROM all_types AS a WHERE id IN (1, %s, %s)", ids
    ).fetchall()
    assert len(rows) == 3 and rows[0] == rows[1] == rows[2]


@pytest.fixture
def no_temp_role(items: Any) -> Any:
    """A login role that may write bulk_items but not create temporary tables."""
    role = f"gw_notemp_{uuid.uuid4().hex[:8]}"
    ident, db = sql.Identifier(role), sql.Identifier(items.info.dbname)
    items.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    items.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
    items.execute(sql.SQL("GRANT SELECT, INSERT ON bulk_items TO {}").format(ident))
    items.execute(sql.SQL("GRANT USAGE ON SEQUENCE bulk_items_id_seq TO {}").format(ident))
    yield role
    items.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO PUBLIC").format(db))
    items.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    items.execute(sql.SQL("DROP ROLE {}").format(ident))


def test_without_temp_privilege_records_go_one_by_one(
    api: Any, items: Any, service: Any, no_temp_role: str
) -> None:
    service.username = no_temp_role
    service.save()
    records = [record(i) for i in range(COPY_MIN_ROWS * 3)]
    status, body = api.post(URL, records)
    assert status == 200, body
    assert body["resource"] == [{"id": i + 1} for i in range(len(records))]
    records[-1]["qty"] = -1
    status, body = api.post(URL, [{**r, "sku": "x" + r["sku"]} for r in records])
    assert batch_error(body)["error"] == [len(records) - 1]
    assert len(skus(items)) == 2 * len(records) - 1
