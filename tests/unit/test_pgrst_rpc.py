"""The PostgREST `/rpc/` planning stage (services/plan/pgrst_rpc.py) and its SQL
(services/sql/pgrst_rpc.py), without a database: which arguments a request gives, which
query keys shape the rows, and what is refused."""

from __future__ import annotations

import pytest

from core.errors import BadRequest, NotFound
from services.catalog.schema_cache import SchemaCache
from services.config import ServiceConfig
from services.plan.pgrst_rpc import RpcQuery, bind_rows, plan_rpc, result_table
from services.plan.types import NO_BODY
from services.sql.pgrst_rpc import compile_rows
from tests.unit.catalog_fixture import ADD_TWO, CUSTOMER_ORDERS


def _query(method: str, body: object = NO_BODY, **kw: object) -> RpcQuery:
    pairs = tuple(kw.pop("pairs", ()))  # type: ignore[call-overload]
    return RpcQuery(name="fn", method=method, body=body, single_object=False, pairs=pairs, **kw)  # type: ignore[arg-type]


def test_post_body_keys_are_the_arguments() -> None:
    plan = plan_rpc(_query("POST", {"a": 1, "b": "2"}), (ADD_TWO,))
    assert [(a.param.name, a.value) for a in plan.call.args] == [("a", 1), ("b", 2)]
    assert plan.shaping is None


def test_get_keys_naming_parameters_are_arguments_the_rest_shape_rows() -> None:
    query = _query("GET", pairs=[("p_customer_id", "7"), ("total", "gt.10"), ("select", "total")])
    plan = plan_rpc(query, (CUSTOMER_ORDERS,))
    assert [(a.param.name, a.value) for a in plan.call.args] == [("p_customer_id", 7)]
    assert plan.shaping is not None and plan.shaping.filter is not None
    assert plan.shaping.select is not None and plan.shaping.select[0].field == "total"


def test_unknown_argument_is_pgrst202() -> None:
    with pytest.raises(NotFound) as caught:
        plan_rpc(_query("POST", {"a": 1, "zzz": 2}), (ADD_TWO,))
    assert caught.value.context["pgrst"] == "PGRST202"


def test_a_value_of_the_wrong_type_is_400_naming_the_parameter() -> None:
    with pytest.raises(BadRequest) as caught:
        plan_rpc(_query("POST", {"a": "abc", "b": 1}), (ADD_TWO,))
    assert "'a'" in caught.value.message and not caught.value.message.startswith("\n")


def test_shaping_a_scalar_result_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        plan_rpc(_query("POST", {"a": 1, "b": 2}, pairs=[("order", "a")]), (ADD_TWO,))
    assert caught.value.context["pgrst"] == "PGRST100"


def test_rows_sql_calls_the_function_once_and_binds_every_value() -> None:
    query = _query("POST", {"p_customer_id": 3}, pairs=[("total", "gte.5")], count=True)
    plan = plan_rpc(query, (CUSTOMER_ORDERS,))
    table = result_table(CUSTOMER_ORDERS, SchemaCache(tables={}))
    assert [c.name for c in table.columns] == ["order_id", "total"]
    read = bind_rows(plan.shaping, table, ServiceConfig.unusable(1, "svc", "test"))
    stmt = compile_rows(plan.call, read)
    text = stmt.query.as_string(None)  # type: ignore[union-attr]
    assert text.count("customer_orders") == 1 and "count(*)" in text
    assert stmt.params[:2] == [3, 5]
