"""A write with WriteOptions (the PostgREST dialect's) through the shared bind and compile
stages: parse_pgrst_write -> bind_plan -> services/sql/writes.py, without a database."""

from __future__ import annotations

import pytest

from services.catalog.schema_cache import Table, UnknownColumn
from services.execution.option_writes import statements_for
from services.plan.bind import bind_plan
from services.plan.pgrst_write import PgrstWriteQuery, parse_pgrst_write
from services.plan.types import BoundCondition, BoundNode, BoundWrite
from tests.unit.catalog_fixture import CUSTOMERS, FakeCatalogs
from tests.unit.stages import text_of

WEST = BoundCondition(CUSTOMERS.column("name"), "=", "west")  # a role's row filter, bound


def _bound(
    body: bytes, query: str = "", prefer: str = "", method: str = "POST", guard: bool = False
) -> BoundWrite:
    pairs = tuple((k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p))
    plan = parse_pgrst_write(PgrstWriteQuery(method, "customers", pairs, body, "", prefer))

    def patch_filter(table: Table, verb: str) -> BoundNode | None:
        return WEST if verb == "PATCH" else None

    bound = bind_plan(plan.write, FakeCatalogs(), None, patch_filter if guard else None)
    assert isinstance(bound, BoundWrite)
    return bound


def test_an_unknown_key_is_pgrst204() -> None:
    with pytest.raises(UnknownColumn) as caught:
        _bound(b'{"name": "a", "nope": 1}')
    assert caught.value.context == {"pgrst": "PGRST204"}


def test_a_merge_upsert_binds_its_target_and_patch_filter() -> None:
    bound = _bound(
        b'[{"email": "a@x.io", "name": "A"}]',
        "on_conflict=email",
        "resolution=merge-duplicates",
        guard=True,
    )
    assert [c.name for c in bound.conflict or ()] == ["email"]
    assert bound.merge_where == WEST and bound.mode == "rollback"
    (stmt,) = statements_for(bound, None)
    text = text_of(stmt)
    assert 'ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name" WHERE' in text
    assert "a@x.io" not in text and stmt.params[-1] == "west"


def test_missing_default_writes_one_insert_per_run_of_keys() -> None:
    bound = _bound(
        b'[{"name": "a"}, {"name": "b"}, {"name": "c", "email": "c@x"}]', prefer="missing=default"
    )
    first, second = statements_for(bound, None)
    assert '("name") SELECT' in text_of(first) and '("name", "email") SELECT' in text_of(second)


def test_a_shape_is_rendered_once_and_values_stay_parameters() -> None:
    one = statements_for(_bound(b'{"name": "a"}'), WEST)[0]
    two = statements_for(_bound(b'{"name": "b"}'), WEST)[0]
    assert one.query is two.query  # the statement cache's text
    assert one.params == ['[{"name":"a"}]', "west"]
