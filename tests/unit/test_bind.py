"""Bind stage (`services.plan.bind.bind_plan`): plans resolved against a hand-built catalog.

Plans come from parse_request, as in the pipeline; the catalogs are tests/unit/catalog_fixture,
so every name, type and overload here is known without a database.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.errors import BadRequest, Forbidden, GatewayError, NotFound
from services.catalog.schema_cache import SchemaCache, Table
from services.plan.routine_args import UnknownRoutine
from services.plan.types import (
    BoundCondition,
    BoundLogic,
    BoundNode,
    BoundRead,
    BoundRoutineCall,
    BoundWrite,
)
from tests.unit.catalog_fixture import (
    ADD_THREE,
    ADD_TWO,
    ARCHIVE_ORDERS,
    CUSTOMERS,
    ORDERS,
    FakeCatalogs,
    column,
    service_config,
)
from tests.unit.stages import bind


def bind_read(path: str, query: dict[str, str] | None = None, **kw: Any) -> BoundRead:
    bound = bind("GET", path, query, **kw)
    assert isinstance(bound, BoundRead)
    return bound


def bind_write(verb: str, path: str, query: dict[str, str] | None, body: Any) -> BoundWrite:
    bound = bind(verb, path, query, body)
    assert isinstance(bound, BoundWrite)
    return bound


def bind_call(verb: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
    bound = bind(verb, path, query, body)
    assert isinstance(bound, BoundRoutineCall)
    return bound.call


def refused(verb: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
    with pytest.raises(GatewayError) as caught:
        bind(verb, path, query, body)
    return caught.value


def names(columns: tuple[Any, ...]) -> list[str]:
    return [c.name for c in columns]


def test_table_and_field_names_match_without_regard_to_case() -> None:
    read = bind_read("_table/ORDERS", {"fields": "Total,ID"})
    assert read.table is ORDERS
    assert names(read.columns) == ["id", "total"]  # table order, the column's own spelling


def test_exact_case_wins_over_a_case_folded_match() -> None:
    table = Table(
        name="events",
        schema="public",
        db_name="events",
        is_view=False,
        columns=(column("Status", 1, "text"), column("status", 2, "text")),
        primary_key=(),
    )
    catalogs = FakeCatalogs(schema_cache=SchemaCache(tables={"events": table}))
    read = bind_read("_table/events", {"fields": "Status"}, catalogs=catalogs)
    assert names(read.columns) == ["Status"]
    read = bind_read("_table/events", {"fields": "STATUS"}, catalogs=catalogs)
    assert names(read.columns) == ["status"]


def test_unknown_table_is_a_404_naming_it() -> None:
    error = refused("GET", "_table/invoices")
    assert isinstance(error, NotFound)
    assert error.message == 'Table "invoices" does not exist in the database.'


def test_unknown_field_is_a_400_naming_it() -> None:
    error = refused("GET", "_table/orders", {"fields": "id,colour"})
    assert isinstance(error, BadRequest)
    assert error.message == "Invalid field requested: colour"
    error = refused("GET", "_table/orders", {"order": "colour desc"})
    assert (error.status, error.message) == (400, "Invalid field 'colour' in order by clause.")


def test_unknown_filter_field_is_a_400_naming_it() -> None:
    error = refused("GET", "_table/orders", {"filter": "colour = 'red'"})
    assert error.status == 400
    assert error.message == "Invalid or unparsable field in filter request: 'colour'"


def test_filter_values_are_coerced_for_their_columns() -> None:
    read = bind_read("_table/orders", {"filter": "(customer_id = '7') and (total >= 10.50)"})
    assert read.where == BoundLogic(
        "and",
        (
            BoundCondition(ORDERS.column("customer_id"), "=", 7),
            BoundCondition(ORDERS.column("total"), ">=", Decimal("10.50")),
        ),
    )
    read = bind_read("_table/orders", {"filter": "id in (1, '2', 3) or status = null"})
    assert read.where == BoundLogic(
        "or",
        (
            BoundCondition(ORDERS.column("id"), "in", (1, 2, 3)),
            BoundCondition(ORDERS.column("status"), "is null", None),  # `= null` is IS NULL
        ),
    )


def test_text_for_an_integer_column_is_a_400_naming_the_field() -> None:
    error = refused("GET", "_table/orders", {"filter": "customer_id = 'abc'"})
    assert error.status == 400
    assert error.message == "Field 'customer_id' must be a valid integer."


def test_contains_escapes_like_wildcards_in_the_value() -> None:
    read = bind_read("_table/orders", {"filter": "status contains '50%_off'"})
    assert read.where == BoundCondition(ORDERS.column("status"), "contains", "%50\\%\\_off%")


def test_limit_over_max_records_falls_back_to_the_service_maximum() -> None:
    catalogs = FakeCatalogs(config=service_config(max_records=50))
    read = bind_read("_table/orders", {"limit": "500", "offset": "10"}, catalogs=catalogs)
    assert (read.limit, read.offset, read.requested_limit) == (50, 10, 500)
    assert read.probe_more  # no valid limit given: find out whether the page was truncated
    read = bind_read("_table/orders", {"limit": "25", "include_count": "1"})
    assert (read.limit, read.count, read.probe_more) == (25, True, False)


def test_record_id_is_coerced_for_the_primary_key() -> None:
    read = bind_read("_table/orders/42")
    assert read.single
    assert names(read.keys) == ["id"]
    assert read.key_values == ((42,),)
    error = refused("GET", "_table/orders/abc")
    assert (error.status, error.message) == (400, "Field 'id' must be a valid integer.")


def test_ids_on_a_view_without_a_primary_key_need_id_field() -> None:
    error = refused("GET", "_table/active_customers", {"ids": "1,2"})
    assert error.status == 400
    assert error.message == "Identifying field(s) could not be determined."
    read = bind_read("_table/active_customers", {"ids": "1,2", "id_field": "id"})
    assert read.key_values == ((1,), (2,))


def test_related_resolves_the_relation_and_its_table() -> None:
    read = bind_read(
        "_table/customers",
        {"related": "orders_by_customer_id", "orders_by_customer_id.limit": "5"},
    )
    (related,) = read.related
    assert related.relation.name == "orders_by_customer_id"
    assert related.table is ORDERS
    assert related.limit == 5
    assert related.where is None
    # the join column is read even when `fields` leaves it out
    read = bind_read("_table/orders", {"fields": "total", "related": "customers_by_customer_id"})
    assert names(read.columns) == ["customer_id", "total"]


def test_unknown_relationship_is_a_400_listing_the_known_ones() -> None:
    error = refused("GET", "_table/orders", {"related": "invoices_by_order_id"})
    assert error.status == 400
    assert error.message == "Invalid relationship requested: invoices_by_order_id"
    assert error.context == {"available": ["customers_by_customer_id"]}


def test_related_guard_row_filter_and_refusal() -> None:
    filtered = BoundCondition(ORDERS.column("status"), "!=", "void")

    def guard(table: Table) -> BoundNode | None:
        if table is CUSTOMERS:
            raise Forbidden("no customers for you")
        return filtered

    read = bind_read("_table/customers", {"related": "*"}, guard=guard)
    assert read.related[0].where == filtered
    # `*` leaves out what the caller may not read; naming it is refused
    assert bind_read("_table/orders", {"related": "*"}, guard=guard).related == ()
    with pytest.raises(Forbidden):
        bind_read("_table/orders", {"related": "customers_by_customer_id"}, guard=guard)


def test_create_coerces_values_and_drops_unknown_fields() -> None:
    write = bind_write(
        "POST",
        "_table/orders",
        None,
        {"resource": [{"id": None, "customer_id": "3", "total": "12.50", "colour": "red"}]},
    )
    (record,) = write.records
    assert record.error is None
    assert record.values == {"customer_id": 3, "total": Decimal("12.50")}
    assert names(write.returning) == ["id"]  # writes answer the key fields by default


def test_create_keeps_each_records_error_at_its_place() -> None:
    write = bind_write(
        "POST",
        "_table/customers",
        {"continue": "true"},
        {"resource": [{"name": "Ann"}, {"email": "bob@example.com"}, {"name": None}]},
    )
    assert write.mode == "continue"
    first, second, third = write.records
    assert first.error is None and first.values == {"name": "Ann"}
    assert isinstance(second.error, BadRequest)
    assert second.error.message == "Required field 'name' can not be NULL."
    assert isinstance(third.error, BadRequest)
    assert third.error.message == "Field 'name' can not be NULL."


def test_update_by_id_addresses_the_key_and_never_writes_it() -> None:
    write = bind_write("PATCH", "_table/orders/9", None, {"id": 1, "status": "paid"})
    (record,) = write.records
    assert record.key == (9,)
    assert record.values == {"status": "paid"}
    assert write.single


def test_update_records_without_their_key_fail_at_their_index() -> None:
    write = bind_write("PUT", "_table/orders", None, {"resource": [{"status": "paid"}]})
    (record,) = write.records
    assert isinstance(record.error, BadRequest)
    assert record.error.message == "Required id field(s) not found in record 0: id."


def test_update_by_filter_with_a_bad_value_fails_the_whole_request() -> None:
    error = refused(
        "PATCH",
        "_table/orders",
        {"filter": "status = 'new'"},
        {"resource": [{"customer_id": "not a number"}]},
    )
    assert error.status == 400
    assert error.message == "Field 'customer_id' must be a valid integer."


def test_delete_by_ids_coerces_each_key() -> None:
    write = bind_write("DELETE", "_table/orders", {"ids": "1,x"}, None)
    first, second = write.records
    assert (first.key, first.label, first.error) == ((1,), "1", None)
    assert second.key is None and isinstance(second.error, BadRequest)


def test_positional_params_pick_the_overload_by_count() -> None:
    two = bind_call("POST", "_func/add_numbers", body={"params": [1, "2"]})
    assert two.routine is ADD_TWO
    assert [a.value for a in two.args] == [1, 2]
    three = bind_call("POST", "_func/add_numbers", body={"params": [1, 2, 3]})
    assert three.routine is ADD_THREE


def test_named_query_params_pick_the_overload_and_are_coerced() -> None:
    call = bind_call("GET", "_func/Add_Numbers", {"a": "4", "b": "5", "wrapper": "x"})
    assert call.routine is ADD_TWO
    assert call.named
    assert [(a.param.name, a.value) for a in call.args] == [("a", 4), ("b", 5)]


def test_inline_arguments_in_the_path() -> None:
    call = bind_call("GET", "_func/add_numbers(4,5,6)")
    assert call.routine is ADD_THREE
    assert [a.value for a in call.args] == [4, 5, 6]


def test_bad_argument_is_a_400_naming_the_parameter() -> None:
    error = refused("POST", "_func/add_numbers", body={"params": {"a": 1, "b": "two"}})
    assert error.status == 400
    assert error.message == (
        "Failed to call database stored function.\nParameter 'b' must be a valid integer."
    )


def test_too_many_arguments_for_every_overload_is_a_400_listing_them() -> None:
    error = refused("POST", "_func/add_numbers", body={"params": [1, 2, 3, 4]})
    assert error.status == 400
    assert error.message.startswith(
        "Function 'add_numbers' is overloaded and no single version takes these parameters"
    )
    assert error.context == {"signatures": [ADD_TWO.label, ADD_THREE.label]}


def test_procedure_out_parameter_is_passed_as_null() -> None:
    call = bind_call("POST", "_proc/archive_orders", body={"params": {"p_before": "2024-01-01"}})
    assert call.routine is ARCHIVE_ORDERS
    assert [(a.param.name, a.value) for a in call.args] == [
        ("p_before", "2024-01-01"),
        ("archived", None),
    ]


def test_unknown_routine_is_a_404_naming_it() -> None:
    error = refused("GET", "_func/mul_numbers")
    assert isinstance(error, UnknownRoutine)
    assert error.status == 404
    assert error.message == "Function 'mul_numbers' does not exist in the database."


def test_refresh_reaches_the_catalog() -> None:
    catalogs = FakeCatalogs()
    bind("GET", "_table/orders", {"refresh": "true"}, catalogs=catalogs)
    bind("GET", "_func/add_numbers", {"refresh": "true", "a": "1", "b": "2"}, catalogs=catalogs)
    assert catalogs.refreshes == ["schema", "routines"]


def test_an_integer_longer_than_any_column_holds_is_a_400_not_a_500() -> None:
    """int() of a string over 4,300 digits raises ValueError: refused before, by its length."""
    from core.errors import BadRequest
    from services.plan.values import coerce
    from tests.unit.catalog_fixture import ORDERS

    column = ORDERS.column("id")
    with pytest.raises(BadRequest, match="out of range"):
        coerce(column, "9" * 5000)
    assert coerce(column, "0" * 100 + "42") == 42  # leading zeros are not digits that count
    with pytest.raises(BadRequest, match="out of range"):
        coerce(column, "9" * 20)  # past bigint, as before
