"""The PostgREST write parser on its own (services/plan/pgrst_write.py): what a request's body,
parameters and Prefer header ask for, and the 400s for what cannot be read."""

from __future__ import annotations

import pytest

from core.errors import BadRequest
from services.plan.pgrst_write import PgrstWrite, PgrstWriteQuery, parse_pgrst_write


def _parse(
    method: str = "POST",
    query: str = "",
    body: bytes | None = b"{}",
    content_type: str = "",
    prefer: str = "",
) -> PgrstWrite:
    pairs = tuple((k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p))
    return parse_pgrst_write(PgrstWriteQuery(method, "t", pairs, body, content_type, prefer))


def _code(
    method: str = "POST", query: str = "", body: bytes | None = b"{}", content_type: str = ""
) -> str:
    with pytest.raises(BadRequest) as caught:
        _parse(method, query, body, content_type)
    context = caught.value.context
    return str(context["pgrst"]) if isinstance(context, dict) else ""


def test_columns_and_on_conflict_take_quoted_names() -> None:
    plan = _parse(query='columns="a,b",c&on_conflict=c')
    assert plan.columns == ("a,b", "c") and plan.on_conflict == ("c",)


def test_csv_rows_with_empty_fields_as_null() -> None:
    plan = _parse(body=b"a,b\n1,\n,x\n", content_type="text/csv")
    assert plan.write.records == ({"a": "1", "b": None}, {"a": None, "b": "x"})


def test_preferences_are_read_and_reported() -> None:
    plan = _parse(
        "PATCH",
        "id=eq.1",
        prefer="return=representation, count=exact, tx=rollback, handling=strict, max-affected=3",
    )
    assert plan.returning == "representation" and plan.count and plan.rollback
    assert plan.max_affected == 3 and plan.write.filter is not None
    assert plan.applied == (
        "return=representation",
        "tx=rollback",
        "count=exact",
        "handling=strict",
        "max-affected=3",
    )


def test_max_affected_needs_strict_handling() -> None:
    assert _parse("DELETE", "id=gt.1", None, prefer="max-affected=1").max_affected is None


def test_bad_bodies_are_pgrst102() -> None:
    assert _code(body=b"[1, 2]") == "PGRST102"
    assert _code(body=b"") == "PGRST102"
    assert _code(body=b"a,b\n1\n", content_type="text/csv") == "PGRST102"
    assert _code(method="PATCH", body=b"[{}, {}]") == "PGRST102"


def test_broken_parameters_are_pgrst100() -> None:
    assert _code(query="columns=a,") == "PGRST100"
    assert _code(query='columns="a') == "PGRST100"
    assert _code(method="PATCH", query="limit=1") == "PGRST100"
    assert _code(method="PATCH", query="id=zz.1") == "PGRST100"
