"""Compile stage (`services.sql.plan.compile_plan`, `services.sql.writes`): bound plans -> SQL.

The text is rendered without a connection (psycopg >= 3.2 takes `as_string(None)`; reads come
back already rendered, as bytes from the statement cache). A few representative statements
are pinned as inline snapshots; the rest assert properties: identifiers quoted, every value a
bound parameter, the role's row filter ANDed in.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from services.plan.types import BoundCondition, BoundNode, BoundRead, BoundWrite
from services.sql.compile import Statement
from services.sql.plan import compile_plan
from services.sql.writes import compile_delete, compile_insert, compile_update
from tests.unit.catalog_fixture import ORDERS, QUOTED_COLUMN, SPACED
from tests.unit.stages import bind, text_of

INJECTION = "'; DROP TABLE x; --"


OWN_ORDERS = BoundCondition(ORDERS.column("customer_id"), "=", 7)  # a role's row filter, bound


def compiled(
    verb: str,
    path: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    *,
    row_filter: BoundNode | None = None,
) -> tuple[str, list[Any]]:
    """The SQL text and parameters the pipeline would run for this request."""
    statement = compile_plan(bind(verb, path, query, body), row_filter)
    assert statement is not None
    assert_driver_ready(statement)
    return text_of(statement), statement.params


def assert_driver_ready(statement: Statement) -> None:
    """What psycopg requires of a query with parameters: every `%` starts a `%s`, one per
    parameter (psycopg scans the whole text, quoted identifiers included)."""
    text = text_of(statement).replace("%%", "")  # a literal `%`, as psycopg reads it
    assert re.findall(r"%(.?)", text) == ["s"] * len(statement.params), text


def bound_write(verb: str, path: str, query: dict[str, str] | None, body: Any) -> BoundWrite:
    write = bind(verb, path, query, body)
    assert isinstance(write, BoundWrite)
    return write


def test_page_read_snapshot() -> None:
    text, params = compiled(
        "GET",
        "_table/orders",
        {"fields": "id,total", "filter": "status = 'paid'", "order": "total desc", "limit": "10"},
    )
    assert text == (
        "SELECT (SELECT coalesce('[' || string_agg(row_to_json(_p)::text, ',') || ']', '[]')"
        ' FROM (SELECT "_t"."id" AS "id", "_t"."total" AS "total"'
        ' FROM "public"."orders" AS "_t" WHERE "_t"."status" = %s'
        ' ORDER BY "_t"."total" DESC LIMIT %s OFFSET %s) AS _p), NULL::bigint, NULL::boolean'
    )
    assert params == ["paid", 10, 0]


def test_record_by_id_snapshot() -> None:
    text, params = compiled("GET", "_table/orders/5", {"fields": "id,status"})
    assert text == (
        "SELECT ARRAY[(SELECT row_to_json(_p)::text FROM"
        ' (SELECT "_t"."id" AS "id", "_t"."status" AS "status" FROM "public"."orders" AS "_t"'
        ' WHERE "_t"."id" = %s LIMIT 1) AS _p)]::text[]'
    )
    assert params == [5]


def test_function_call_snapshot() -> None:
    text, params = compiled("POST", "_func/add_numbers", body={"params": [1, "2"]})
    assert text == (
        'SELECT to_json("public"."add_numbers"('
        '"a" => CAST(%s AS "pg_catalog"."int4"), "b" => CAST(%s AS "pg_catalog"."int4")))::text'
    )
    assert params == [1, 2]


def test_a_call_shape_is_rendered_once_and_values_stay_parameters() -> None:
    first = compile_plan(bind("POST", "_func/add_numbers", None, {"params": [1, 2]}))
    again = compile_plan(bind("POST", "_func/add_numbers", None, {"params": [3, 4]}))
    assert first is not None and again is not None
    assert again.query is first.query  # the same text object: rendered once for the shape
    assert again.params == [3, 4]
    three = compile_plan(bind("POST", "_func/add_numbers", None, {"params": [1, 2, 3]}))
    assert three is not None and three.query != first.query  # another overload, another text


def test_procedure_call_snapshot() -> None:
    text, params = compiled("POST", "_proc/archive_orders", body={"params": ["2024-01-01"]})
    assert text == (
        'CALL "public"."archive_orders"("p_before" => CAST(%s AS "pg_catalog"."timestamptz"),'
        ' "archived" => CAST(%s AS "pg_catalog"."int4"))'
    )
    assert params == ["2024-01-01", None]


def test_insert_update_delete_by_id_snapshots() -> None:
    create = bound_write("POST", "_table/orders", None, {"resource": [{"customer_id": 3}]})
    insert = compile_insert(create.table, create.records[0].values, create.returning)
    assert text_of(insert) == (
        'INSERT INTO "public"."orders" AS "_t" ("customer_id") VALUES (%s)'
        ' RETURNING (SELECT row_to_json(_x) FROM (SELECT "_t"."id" AS "id") AS _x)::text'
    )
    assert insert.params == [3]

    patch = bound_write("PATCH", "_table/orders/9", None, {"status": "paid"})
    (record,) = patch.records
    update = compile_update(
        patch.table, record.values, patch.returning, keys=patch.keys, key=record.key
    )
    assert text_of(update) == (
        'UPDATE "public"."orders" AS "_t" SET "status" = %s WHERE "_t"."id" = %s'
        ' RETURNING (SELECT row_to_json(_x) FROM (SELECT "_t"."id" AS "id") AS _x)::text'
    )
    assert update.params == ["paid", 9]

    remove = bound_write("DELETE", "_table/orders/9", None, None)
    delete = compile_delete(remove.table, remove.returning, keys=remove.keys, key=(9,))
    assert text_of(delete) == (
        'DELETE FROM "public"."orders" AS "_t" WHERE "_t"."id" = %s'
        ' RETURNING (SELECT row_to_json(_x) FROM (SELECT "_t"."id" AS "id") AS _x)::text'
    )
    assert delete.params == [9]


def test_identifiers_with_spaces_and_double_quotes_are_quoted() -> None:
    text, params = compiled(
        "GET",
        "_table/table with space",
        {"fields": f"Mixed Case,{QUOTED_COLUMN}", "filter": '"say ""hi""" = \'x\''},
    )
    assert 'FROM "public"."Table With Space" AS "_t"' in text
    assert '"_t"."Mixed Case" AS "Mixed Case"' in text
    assert '"_t"."say ""hi""" = %s' in text
    assert params[0] == "x"


@pytest.mark.parametrize(
    "condition",
    [
        "status = '''; DROP TABLE x; --'",  # a doubled quote inside a quoted string
        "status = '\\'; DROP TABLE x; --'",  # a backslash-escaped quote
        f'status = "{INJECTION}"',
        f'status contains "{INJECTION}"',
        f'status in ("{INJECTION}", "b")',
    ],
)
def test_filter_values_are_parameters_never_sql_text(condition: str) -> None:
    text, params = compiled("GET", "_table/orders", {"filter": condition})
    assert "DROP" not in text
    assert any(INJECTION in str(p) for p in params), params


def test_write_values_are_parameters_never_sql_text() -> None:
    write = bound_write("POST", "_table/orders", None, {"resource": [{"status": INJECTION}]})
    statement = compile_insert(write.table, write.records[0].values, write.returning)
    assert_driver_ready(statement)
    assert "DROP" not in text_of(statement)
    assert statement.params == [INJECTION]


def test_limit_and_offset_are_parameters() -> None:
    text, params = compiled("GET", "_table/orders", {"limit": "37", "offset": "91"})
    assert "37" not in text and "91" not in text
    assert text.count("LIMIT %s OFFSET %s") == 1
    assert params == [37, 91]


def test_no_valid_limit_pages_at_max_records_and_probes_for_more() -> None:
    text, params = compiled("GET", "_table/orders", {"limit": "0", "offset": "91"})
    assert "EXISTS (SELECT 1 FROM" in text and "OFFSET %s LIMIT 1)" in text
    assert params == [1000, 91, 1091]  # page limit, offset, then the probe's offset


def test_row_filter_is_anded_into_the_page_and_its_count() -> None:
    text, params = compiled(
        "GET",
        "_table/orders",
        {"filter": "status = 'paid'", "include_count": "true", "limit": "5"},
        row_filter=OWN_ORDERS,
    )
    both = '("_t"."status" = %s AND "_t"."customer_id" = %s)'
    assert text.count(f"WHERE {both}") == 2  # the page and the count
    assert params == ["paid", 7, 5, 0, "paid", 7]


def test_row_filter_is_anded_into_each_key_lookup() -> None:
    text, params = compiled("GET", "_table/orders", {"ids": "1,2"}, row_filter=OWN_ORDERS)
    assert text.count('WHERE "_t"."customer_id" = %s AND "_t"."id" = %s') == 2
    assert params == [7, 1, 7, 2]


def test_related_rows_are_a_correlated_subquery_with_their_own_filter_and_limit() -> None:
    read = bind("GET", "_table/customers", {"related": "orders_by_customer_id", "limit": "2"})
    assert isinstance(read, BoundRead)
    # what the related guard gives a role: its row filter on the embedded `orders`
    guarded = replace(read, related=(replace(read.related[0], where=OWN_ORDERS),))
    statement = compile_plan(guarded)
    assert statement is not None
    assert_driver_ready(statement)
    text = text_of(statement)
    assert (
        'FROM "public"."orders" AS "_r0" WHERE "_r0"."customer_id" = "_t"."id"'
        ' AND "_r0"."customer_id" = %s'
    ) in text
    assert 'AS "orders_by_customer_id"' in text
    assert statement.params == [7, 1000, 2, 0]  # related filter, related limit, then the page


def test_a_users_or_filter_cannot_widen_the_row_filter() -> None:
    text, params = compiled(
        "GET",
        "_table/orders",
        {"filter": "status = 'a' or id > 0", "limit": "5"},
        row_filter=OWN_ORDERS,
    )
    assert (
        ' WHERE (("_t"."status" = %s OR "_t"."id" > %s) AND "_t"."customer_id" = %s) LIMIT' in text
    )
    assert params == ["a", 0, 7, 5, 0]


def test_streamed_reads_and_table_writes_compile_later() -> None:
    stream = bind("GET", "_table/orders", {"format": "ndjson"})
    assert compile_plan(stream) is None
    write = bound_write("POST", "_table/orders", None, {"resource": [{"status": "x"}]})
    assert compile_plan(write) is None


def test_percent_sign_in_a_column_name_is_doubled_for_the_driver() -> None:
    key = SPACED.columns[0]
    discount = replace(SPACED.columns[1], name="discount %")
    table = replace(SPACED, columns=(key, discount))
    statement = compile_update(table, {discount.name: "10"}, (key,), keys=(key,), key=(1,))
    assert '"discount %%" = %s' in text_of(statement)  # the server receives "discount %"
    assert_driver_ready(statement)
