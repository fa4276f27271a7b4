"""Upsert services (spec §9.4) update existing rows in part; expression values (spec §3.11)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import assert_error

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"


@pytest.fixture
def upsert(service: Any) -> Any:
    service.allow_upsert = True
    service.save()
    return service


# --- upsert -----------------------------------------------------------------------------------


def test_partial_patch_of_an_existing_row_updates_it(api: Any, pg: Any, upsert: Any) -> None:
    # order_items has three NOT NULL columns without defaults; the PATCH gives one of them
    assert api.patch(f"{T}/order_items/1", {"qty": 7}) == (200, {"id": 1})
    assert pg.execute("SELECT order_id, sku, qty FROM order_items WHERE id = 1").fetchone() == (
        1,
        "A1",
        7,
    )
    assert api.put(f"{T}/todo/2", {"complete": False}, fields="*") == (
        200,
        {"id": 2, "name": "test2", "complete": False},
    )


def test_missing_key_is_inserted_with_the_key_and_the_fields(
    api: Any, pg: Any, upsert: Any
) -> None:
    record = {"order_id": 2, "sku": "N1", "qty": 4}
    assert api.patch(f"{T}/order_items/40", record) == (200, {"id": 40})
    assert pg.execute("SELECT order_id, sku, qty FROM order_items WHERE id = 40").fetchone() == (
        2,
        "N1",
        4,
    )
    # a partial record for a key that does not exist cannot be inserted: the create's message
    status, body = api.patch(f"{T}/order_items/41", {"qty": 1})
    assert_error(status, body, 400, "Required field 'order_id' can not be NULL.")
    assert pg.execute("SELECT count(*) FROM order_items WHERE id = 41").fetchone() == (0,)


def test_records_and_ids_forms_upsert_each_record(api: Any, pg: Any, upsert: Any) -> None:
    status, body = api.patch(
        f"{T}/order_items", [{"id": 2, "qty": 9}, {"id": 50, "order_id": 1, "sku": "Z", "qty": 1}]
    )
    assert (status, body) == (200, {"resource": [{"id": 2}, {"id": 50}]})
    status, body = api.patch(f"{T}/order_items", [{"sku": "same"}], ids="1,3")
    assert (status, body) == (200, {"resource": [{"id": 1}, {"id": 3}]})
    rows = pg.execute("SELECT id, sku, qty FROM order_items ORDER BY id").fetchall()
    assert rows == [(1, "same", 2), (2, "B2", 9), (3, "same", 5), (50, "Z", 1)]


def test_without_upsert_a_missing_row_is_404(api: Any) -> None:
    status, body = api.patch(f"{T}/order_items/40", {"order_id": 2, "sku": "N1", "qty": 4})
    assert_error(status, body, 404, "Record with identifier '40' not found.")


# --- expressions ------------------------------------------------------------------------------


def test_expression_null_stores_null(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"name": "x", "complete": {"expression": "NULL"}}])
    assert (status, body) == (200, {"resource": [{"id": 6}]})
    assert api.patch(f"{T}/orders/1", {"note": {"expression": " null "}}) == (200, {"id": 1})
    assert pg.execute("SELECT note FROM orders WHERE id = 1").fetchone() == (None,)
    # the {"value": ..., "params": [...]} form, into a json column: an expression there too
    status, body = api.post(
        f"{T}/all_types", [{"txt": "j", "jsb": {"expression": {"value": "NULL", "params": []}}}]
    )
    assert status == 200
    assert pg.execute("SELECT jsb FROM all_types WHERE txt = 'j'").fetchone() == (None,)


def test_expression_null_on_a_not_null_column_names_the_field(api: Any) -> None:
    status, body = api.patch(f"{T}/orders/1", {"status": {"expression": "NULL"}})
    assert_error(status, body, 400, "Field 'status' can not be NULL.")


def test_other_expressions_are_refused_and_nothing_is_written(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"name": {"expression": "version()"}}])
    error = assert_error(
        status, body, 400, "Batch Error: Not all requested records could be created."
    )
    assert error["context"]["resource"][0]["message"] == (
        "SQL expression 'version()' is not permitted."
    )
    status, body = api.patch(f"{T}/todo/1", {"name": {"expression": "'a'; DROP TABLE todo"}})
    assert_error(status, body, 400, "SQL expression ''a'; DROP TABLE todo' is not permitted.")
    # a batch (the column-wise COPY path) reports the record at its index
    status, body = api.post(
        f"{T}/todo",
        [{"name": "ok1"}, {"name": {"expression": "now()"}}, {"name": "ok3"}],
        rollback="true",
    )
    error = assert_error(
        status,
        body,
        400,
        "Batch Error: Not all requested records could be created. All changes rolled back.",
    )
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][1]["message"] == "SQL expression 'now()' is not permitted."
    assert pg.execute("SELECT count(*) FROM todo").fetchone() == (5,)


def test_current_time_expressions_on_date_and_time_columns(api: Any, pg: Any) -> None:
    records = [
        {"txt": "t1", "tstz": {"expression": "NOW()"}, "d": {"expression": "CURRENT_DATE"}},
        {"txt": "t2", "tstz": {"expression": "current_timestamp"}, "d": "2026-01-02"},
    ]
    status, body = api.post(f"{T}/all_types", records)
    assert status == 200, body
    rows = pg.execute(
        "SELECT txt, now() - tstz < interval '1 minute', d = current_date FROM all_types"
        " WHERE txt IN ('t1', 't2') ORDER BY txt"
    ).fetchall()
    assert rows == [("t1", True, True), ("t2", True, False)]


def test_a_json_object_with_more_keys_is_stored_as_json(api: Any, pg: Any) -> None:
    value = {"expression": "NOW()", "note": "plain data"}
    status, body = api.post(f"{T}/all_types", [{"txt": "k", "jsb": value}])
    assert status == 200
    assert pg.execute("SELECT jsb FROM all_types WHERE txt = 'k'").fetchone() == (value,)
