"""The PostgREST grammar parser alone (services/plan/pgrst_*.py): pure, no server, no database."""

from __future__ import annotations

import pytest

from core.errors import BadRequest
from services.plan.filter_ast import And, Condition, Not, Value
from services.plan.pgrst_parse import PgrstQuery, parse_pgrst_read
from services.plan.types import OrderItem, SelectItem, TableRead


def _read(
    *pairs: tuple[str, str], start: int | None = None, end: int | None = None, count: bool = False
) -> TableRead:
    return parse_pgrst_read(PgrstQuery("t", tuple(pairs), start, end, count))


def _fails(*pairs: tuple[str, str]) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        _read(*pairs)
    return caught.value


def test_select_items_keep_order_alias_and_cast() -> None:
    plan = _read(("select", 'id, total:amount::double precision,"odd name",*'))
    assert plan.select == (
        SelectItem("id"),
        SelectItem("amount", "total", "float8"),
        SelectItem("odd name"),
        SelectItem("*"),
    )


def test_select_errors_name_the_position() -> None:
    error = _fails(("select", "id,name::"))
    assert error.context["pgrst"] == "PGRST100" and "position 10" in error.context["details"]
    assert _fails(("select", "id,(")).context["pgrst"] == "PGRST100"
    assert _fails(("select", "id,x::int;drop")).context["pgrst"] == "PGRST100"


def test_filters_become_the_shared_filter_ast() -> None:
    plan = _read(("id", "gt.1"), ("id", 'not.in.(2,"3,4")'), ("name", "ilike.*a*"))
    assert plan.filter == And(
        (
            Condition("id", ">", Value("1", quoted=True)),
            Not(Condition("id", "in", (Value("2", quoted=True), Value("3,4", quoted=True)))),
            Condition("name", "ilike", Value("%a%", quoted=True)),
        )
    )


@pytest.mark.parametrize(
    "value", ["xyz.1", "eq", "is.maybe", "in.1,2", "eq(some).{1}", "fts(en-gb).x", "not.nope.1"]
)
def test_unknown_or_unserved_operators_are_pgrst100(value: str) -> None:
    assert _fails(("id", value)).context["pgrst"] == "PGRST100"


def test_order_limit_offset_and_range() -> None:
    plan = _read(("order", "a.desc.nullslast,b"), start=5, end=9, count=True)
    assert plan.order == (OrderItem("a", True, "last"), OrderItem("b"))
    assert (plan.offset, plan.limit, plan.include_count) == (5, 5, True)
    assert _fails(("order", "a.sideways")).context["pgrst"] == "PGRST100"
    assert _fails(("limit", "-1")).context["pgrst"] == "PGRST100"
