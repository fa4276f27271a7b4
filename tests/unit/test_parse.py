"""Parse stage (`services.plan.parse.parse_request`): ApiRequest -> Plan, no database.

Each test builds the plain request parts a client would send and checks the typed plan, or
the status and message of the error the client would get back.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.errors import BadRequest, GatewayError, NotFound, PayloadTooLarge
from core.records import NO_RECORDS
from core.request import ApiRequest
from services.plan.filter_ast import And, Condition, Value
from services.plan.parse import parse_request
from services.plan.types import (
    ALL_FIELDS,
    OrderItem,
    Plan,
    RelatedRequest,
    RoutineCall,
    RoutineList,
    SchemaRead,
    SpecRead,
    TableList,
    TableRead,
    TableWrite,
)
from tests.unit.stages import request


def parse(verb: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Plan:
    return parse_request(request(verb, path, query, body))


def refused(req: ApiRequest) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        parse_request(req)
    return caught.value


def test_table_list() -> None:
    plan = parse("GET", "_table", {"as_list": "true"})
    assert plan == TableList(all_fields=False, as_list=True, ids=None, refresh=False)


def test_record_by_id_keeps_the_id_as_text_and_defaults_everything_else() -> None:
    plan = parse("GET", "_table/orders/5")
    assert isinstance(plan, TableRead)
    assert (plan.table, plan.record_id) == ("orders", "5")
    assert plan.fields is None and plan.filter is None
    assert (plan.limit, plan.offset, plan.order, plan.ids) == (None, 0, (), None)


def test_read_options_filter_fields_order_limit_offset_count() -> None:
    plan = parse(
        "GET",
        "_table/orders",
        {
            "filter": "(status = 'paid') AND (total > 10)",
            "fields": "id, total",
            "order": "total desc nulls last, id",
            "limit": "20",
            "offset": "40",
            "include_count": "true",
        },
    )
    assert isinstance(plan, TableRead)
    assert plan.filter == And(
        (
            Condition("status", "=", Value("paid", quoted=True)),
            Condition("total", ">", Value("10")),
        )
    )
    assert plan.fields == ("id", "total")
    assert plan.order == (OrderItem("total", descending=True, nulls="last"), OrderItem("id"))
    assert (plan.limit, plan.offset, plan.include_count) == (20, 40, True)


def test_aliases_select_where_top_skip_sort() -> None:
    plan = parse(
        "GET",
        "_table/orders",
        {"select": "*", "where": "id = 1", "top": "3", "skip": "6", "sort": "id desc"},
    )
    assert isinstance(plan, TableRead)
    assert plan.fields == ALL_FIELDS
    assert plan.filter == Condition("id", "=", Value("1"))
    assert (plan.limit, plan.offset) == (3, 6)
    assert plan.order == (OrderItem("id", descending=True),)


def test_ids_are_split_and_trimmed() -> None:
    plan = parse("GET", "_table/orders", {"ids": "1, 2,,3"})
    assert isinstance(plan, TableRead)
    assert plan.ids == ("1", "2", "3")


def test_related_with_per_relationship_options() -> None:
    plan = parse(
        "GET",
        "_table/customers",
        {
            "related": "orders_by_customer_id",
            "orders_by_customer_id.fields": "id,total",
            "orders_by_customer_id_limit": "5",
            "orders_by_customer_id.order": "total desc",
        },
    )
    assert isinstance(plan, TableRead)
    assert plan.related == (
        RelatedRequest(
            "orders_by_customer_id",
            fields=("id", "total"),
            limit=5,
            order=(OrderItem("total", descending=True),),
        ),
    )


def test_filter_placeholder_takes_its_value_from_body_params() -> None:
    plan = parse(
        "GET",
        "_table/orders",
        {"filter": "status = :status"},
        body={"params": {":status": "paid"}},
    )
    assert isinstance(plan, TableRead)
    assert plan.filter == Condition("status", "=", Value("paid", from_param=True))


def test_junk_limit_and_offset_mean_not_given() -> None:
    plan = parse("GET", "_table/orders", {"limit": "lots", "offset": "x"})
    assert isinstance(plan, TableRead)
    assert (plan.limit, plan.offset) == (None, 0)  # bind then pages at max_records


@pytest.mark.parametrize(
    ("offset", "message"),
    [
        ("-1", "offset must be 0 or more (the rows to skip), not -1."),
        (str(2**63), f"offset may be at most {2**63 - 1}."),
    ],
)
def test_bad_offset_is_a_400_naming_offset(offset: str, message: str) -> None:
    error = refused(request("GET", "_table/orders", {"offset": offset}))
    assert isinstance(error, BadRequest)
    assert error.message == message
    assert error.context == {"param": "offset"}


def test_semicolon_in_order_is_refused() -> None:
    error = refused(request("GET", "_table/orders", {"order": "id; DROP TABLE orders"}))
    assert error.status == 400
    assert error.message == "Invalid order by clause in request."


def test_post_resource_array_is_a_create_with_every_record() -> None:
    body = {"resource": [{"name": "Ann"}, {"name": "Bob", "total": 9.5}]}
    plan = parse("POST", "_table/customers", {"fields": "id,name"}, body)
    assert isinstance(plan, TableWrite)
    assert plan.action == "create"
    assert plan.records == ({"name": "Ann"}, {"name": "Bob", "total": Decimal("9.5")})
    assert plan.fields == ("id", "name")


def test_post_bare_object_has_no_records() -> None:
    error = refused(request("POST", "_table/customers", body={"name": "Ann"}))
    assert error.status == 400
    assert error.message == NO_RECORDS


def test_put_by_id_takes_the_bare_object_as_the_record() -> None:
    plan = parse("PUT", "_table/orders/7", body={"status": "shipped"})
    assert plan == TableWrite(
        table="orders", action="update", records=({"status": "shipped"},), record_id="7"
    )


def test_patch_by_filter_uses_the_first_record_as_the_template() -> None:
    plan = parse(
        "PATCH",
        "_table/orders",
        {"filter": "status = 'new'", "rollback": "true"},
        body={"resource": [{"status": "paid"}, {"status": "ignored"}]},
    )
    assert isinstance(plan, TableWrite)
    assert plan.action == "update" and plan.mode == "rollback"
    assert plan.records == ({"status": "paid"},)
    assert plan.filter == Condition("status", "=", Value("new", quoted=True))


def test_delete_by_filter() -> None:
    plan = parse("DELETE", "_table/orders", {"filter": "total < 0"})
    assert isinstance(plan, TableWrite)
    assert plan.action == "delete"
    assert plan.filter == Condition("total", "<", Value("0"))
    assert plan.records == () and plan.force is False


def test_delete_without_filter_ids_records_or_force_is_refused() -> None:
    error = refused(request("DELETE", "_table/orders"))
    assert error.status == 400
    assert error.message == "No filter or records given for delete request."


def test_schema_path_and_ids() -> None:
    plan = parse("GET", "_schema/orders", {"ids": "a,b"})
    assert plan == SchemaRead(path=("orders",), names=("a", "b"))


def test_func_call_params_from_the_body_or_the_query() -> None:
    plan = parse("POST", "_func/add_numbers", {"wrapper": "out"}, {"params": {"a": 1, "b": 2}})
    assert isinstance(plan, RoutineCall)
    assert (plan.kind, plan.name) == ("function", "add_numbers")
    assert plan.body_params == {"a": 1, "b": 2}
    assert plan.options.wrapper == "out"
    # query parameters stay as given: the binder decides which name a parameter
    plan = parse("GET", "_func/add_numbers", {"a": "1", "b": "2", "returns": "int"})
    assert isinstance(plan, RoutineCall)
    assert plan.body_params is None
    assert plan.query == (("a", "1"), ("b", "2"), ("returns", "int"))
    assert plan.options.returns == "integer"


def test_proc_list_and_call() -> None:
    listing = parse("GET", "_proc", {"ids": "archive_orders"})
    assert listing == RoutineList(kind="procedure", names=("archive_orders",))
    call = parse("POST", "_proc/archive_orders", body={"params": ["2024-01-01"]})
    assert isinstance(call, RoutineCall)
    assert (call.kind, call.name, call.body_params) == (
        "procedure",
        "archive_orders",
        ["2024-01-01"],
    )


def test_spec_read_and_refresh() -> None:
    assert parse("GET", "_spec", {"refresh": "true"}) == SpecRead(refresh=True)


def test_malformed_json_names_line_and_column() -> None:
    error = refused(request("POST", "_table/orders", raw=b'{"resource": [\n  {"a": 1,}]}'))
    assert isinstance(error, BadRequest)
    assert error.message == (
        "Malformed JSON in request body at line 2 column 11: "
        "Expecting property name enclosed in double quotes."
    )


def test_body_too_large_is_a_413_before_anything_else() -> None:
    # even an unknown resource: the size is judged first
    error = refused(request("POST", "_nope", too_large=True))
    assert isinstance(error, PayloadTooLarge)
    assert error.status == 413
    assert error.message.startswith("Request body is larger than the limit of ")


def test_unknown_resource_is_a_404_naming_it() -> None:
    error = refused(request("GET", "_nope"))
    assert isinstance(error, NotFound)
    assert error.message == "Resource '_nope' not found for service 'shop'."
