"""Bulk creates: POST /_table/{t} with many records goes in chunks, with today's batch semantics."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from psycopg import sql

from services.execution.bulk import CHUNK_ROWS, COPY_MIN_ROWS, Chunk, plan_chunks
from services.plan.types import BoundRecord

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


def test_continue_mode_is_unchanged(api: Any, items: Any) -> None:
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

    def recs(*runs: tuple[int, tuple[str, ...]]) -> list[BoundRecord]:
        return [BoundRecord(dict.fromkeys(names, 1)) for count, names in runs for _ in range(count)]

    sku, qty = table.column("sku"), table.column("qty")
    big = CHUNK_ROWS + 5
    assert plan_chunks(table, recs((big, ("sku",)), (3, ("qty", "sku")), (2, ("sku",)))) == [
        Chunk(0, CHUNK_ROWS, (sku,)),
        Chunk(CHUNK_ROWS, big, (sku,)),
        Chunk(big, big + 5, None),  # two short runs share one record-by-record chunk
    ]
    assert plan_chunks(table, recs((COPY_MIN_ROWS, ("qty", "sku")))) == [
        Chunk(0, COPY_MIN_ROWS, (sku, qty))  # columns in table order
    ]
    assert plan_chunks(table, []) == []


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
