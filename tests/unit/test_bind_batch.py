"""Batch creates bound column by column (services/plan/bind_batch.py) and their COPY text
(services/sql/bulk.py): the same outcome as binding every record on its own.

The reference is the per-record path itself (`bind_write._record_values`): for any batch, a
record fails column-wise exactly when it fails on its own, with the same error, and a record
that binds is written with values PostgreSQL reads as the ones the per-record path binds.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from core.errors import GatewayError
from services.catalog.schema_cache import Column, Table
from services.plan.bind_batch import (
    Binding,
    BoundOneByOne,
    ColumnRun,
    bind_all,
    bind_creates,
    runs_of,
)
from services.plan.bind_write import _record_values
from services.plan.types import BoundRecord
from services.sql.bulk import PIECE_ROWS, copy_text

# base type -> (format_type, typcategory)
_TYPES = {
    "int2": ("smallint", "N"),
    "int4": ("integer", "N"),
    "int8": ("bigint", "N"),
    "numeric": ("numeric", "N"),
    "float8": ("double precision", "N"),
    "money": ("money", "N"),
    "bool": ("boolean", "B"),
    "uuid": ("uuid", "U"),
    "text": ("text", "S"),
    "varchar": ("character varying(20)", "S"),
    "timestamptz": ("timestamp with time zone", "D"),
    "jsonb": ("jsonb", "U"),
    "bytea": ("bytea", "U"),
}


def _column(
    name: str,
    position: int,
    base: str,
    *,
    nullable: bool = True,
    default: str | None = None,
    serial: bool = False,
    generated: bool = False,
    array: bool = False,
) -> Column:
    db_type, category = _TYPES[base]
    return Column(
        name=name,
        position=position,
        db_type=db_type + ("[]" if array else ""),
        base_type=base,
        category="A" if array else category,
        nullable=nullable,
        default=default,
        is_primary_key=serial,
        auto_increment=serial,
        is_generated=generated,
        is_unique=serial,
        length=None,
        precision=None,
        scale=None,
        simple_type="string",
    )


COLUMNS = (
    _column("id", 1, "int4", nullable=False, serial=True),
    _column("sku", 2, "text", nullable=False),  # required
    _column("qty", 3, "int4", nullable=False, default="1"),
    _column("small", 4, "int2"),
    _column("big", 5, "int8"),
    _column("price", 6, "numeric"),
    _column("ratio", 7, "float8"),
    _column("cash", 8, "money"),
    _column("flag", 9, "bool"),
    _column("uid", 10, "uuid"),
    _column("Note", 11, "text"),
    _column("code", 12, "varchar"),
    _column("at", 13, "timestamptz"),
    _column("meta", 14, "jsonb"),
    _column("bin", 15, "bytea"),
    _column("tags", 16, "text", array=True),
    _column("len", 17, "int4", generated=True),
)
TABLE = Table(
    name="items",
    schema="public",
    db_name="items",
    is_view=False,
    columns=COLUMNS,
    primary_key=("id",),
)

TRICKY: list[Any] = [
    None,
    "",
    " ",
    "42",
    " 42 ",
    "+7",
    "-0",
    "007",
    "4_2",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: Python's int() and Decimal() take it
    "1e5",
    "0.0000001",
    "0.00000000",
    "12.50",
    "-3.25",
    ".5",
    "5.",
    "NaN",
    "abc",
    "a\tb\\c\nd\re",
    "nul\x00here",
    "t",
    "yes",
    "2026-01-02T03:04:05Z",
    "6F1C9B1E-4A0C-4B8E-9D51-2C1C7F0A1B2C",
    "6f1c9b1e-4a0c-4b8e-9d51-2c1c7f0a1b2c",
    "{6f1c9b1e-4a0c-4b8e-9d51-2c1c7f0a1b2c}",
    "AAEC/w==",
    "{a,b}",
    '{"k": [1, 2]}',
    "1\n2",
    0,
    1,
    -1,
    7,
    2**15,
    2**31,
    -(2**63),
    2**63,
    True,
    False,
    Decimal("1.10"),
    Decimal("2.0"),
    Decimal("1E+2"),
    {"a": [1, None, "x"]},
    [1, "two", None],
    [],
]
KEYS = [c.name for c in COLUMNS] + ["NOTE", "unknown"]


def bind_one(record: Any) -> dict[str, Any]:
    return _record_values(TABLE, record, creating=True, skip=frozenset())


def alone(record: Any) -> dict[str, Any] | GatewayError:
    try:
        return bind_one(record)
    except GatewayError as exc:
        return exc


def same_error(a: Exception | None, b: Exception) -> bool:
    return (
        isinstance(a, GatewayError)
        and isinstance(b, GatewayError)
        and type(a) is type(b)
        and a.as_dict() == b.as_dict()
    )


def read_as(column: Column, value: Any) -> Any:
    """What PostgreSQL reads from a bound value (as its COPY text): equal for equal values."""
    if value is None or isinstance(value, (bool, bytes, Jsonb)):
        return repr(value) if not isinstance(value, Jsonb) else (value.obj, value.dumps)
    text = str(value)
    if column.is_array:
        return text
    if column.base_type in ("numeric", "float8"):
        number = Decimal(text)
        if not number.is_finite():
            return str(number)
        return number, min(int(number.as_tuple().exponent), 0)  # value and display scale
    if column.base_type.startswith("int"):
        return int(text)
    if column.base_type == "uuid":
        return uuid.UUID(text)
    return text


def where(batch: Binding, index: int) -> tuple[ColumnRun, int]:
    (run,) = [r for r in batch.runs if r.start <= index < r.stop]
    return run, index - run.start


def check_batch(records: list[Any]) -> None:
    creates = bind_creates(TABLE, records, bind_one)
    assert len(creates) == len(records)
    batch = bind_all(creates)
    for index, record in enumerate(records):
        expected = alone(record)
        if isinstance(expected, GatewayError):
            assert index in batch.errors, (index, record, expected.message)
            assert same_error(batch.errors[index], expected)
            assert same_error(creates[index].error, expected)
            continue
        assert index not in batch.errors, (index, record, batch.errors[index])
        run, place = where(batch, index)
        assert {c.name for c in run.columns} == set(expected)
        for column, values in zip(run.columns, run.values, strict=True):
            bound = values[place]
            assert read_as(column, bound) == read_as(column, expected[column.name]), (
                column.name,
                bound,
                expected[column.name],
            )
        assert repr(creates[index]) == repr(BoundRecord(expected))  # repr: NaN != NaN
    # the runs never overlap and stay in order
    edges = [(r.start, r.stop) for r in batch.runs]
    assert edges == sorted(edges) and all(a[1] <= b[0] for a, b in pairwise(edges))


def test_a_uniform_batch_is_one_run_with_the_values_as_given() -> None:
    records = [
        {"sku": f"s{i}", "qty": i, "price": f"{i}.25", "at": "2026-01-01", "flag": i % 2 == 0}
        for i in range(100)
    ]
    batch = bind_all(bind_creates(TABLE, records, bind_one))
    assert batch.errors == {}
    (run,) = batch.runs
    assert (run.start, run.stop) == (0, 100)
    assert [c.name for c in run.columns] == ["sku", "qty", "price", "flag", "at"]  # table order
    sku, qty, price, flag, at = run.values
    assert sku[7] == "s7" and qty[7] == 7 and price[7] == "7.25" and flag[7] is False
    check_batch(records)


def test_each_failing_record_has_its_own_first_error() -> None:
    records: list[Any] = [{"qty": i, "sku": f"s{i}", "small": 1} for i in range(40)]
    records[3] = {"qty": "x", "sku": None, "small": 1}  # qty is checked first: its key is first
    records[5] = {"sku": None, "qty": "x", "small": 1}  # the same keys, another order
    records[9] = {"qty": 1, "sku": "s9", "small": 2**15}
    records[11] = {"qty": None, "sku": "s11", "small": 1}
    records[12] = {"qty": 1, "small": 1}  # sku is required
    records[13] = ["not", "an", "object"]
    records[14] = {"unknown": 1}
    records[15] = {"qty": 1, "sku": "a\x00b", "small": 1}
    batch = bind_all(bind_creates(TABLE, records, bind_one))
    messages = {i: getattr(e, "message", "") for i, e in batch.errors.items()}
    assert messages == {
        3: "Field 'qty' must be a valid integer.",
        5: "Field 'sku' can not be NULL.",
        9: "Field 'small' is out of range for type smallint.",
        11: "Field 'qty' can not be NULL.",
        12: "Required field 'sku' can not be NULL.",
        13: "Each record must be a JSON object.",
        14: "Required field 'sku' can not be NULL.",
        15: "Field 'sku' can not hold a NUL (\\u0000) character.",
    }
    check_batch(records)


def test_null_identity_means_its_default_and_case_variants_go_record_by_record() -> None:
    all_null = [{"id": None, "sku": f"a{i}"} for i in range(20)]
    mixed = [{"id": None if i % 2 else i + 100, "sku": f"b{i}"} for i in range(20)]
    twice = [{"Note": "x", "NOTE": f"y{i}", "sku": f"c{i}"} for i in range(20)]
    batch = bind_all(bind_creates(TABLE, all_null + mixed + twice, bind_one))
    assert batch.errors == {}
    assert [c.name for c in batch.runs[0].columns] == ["sku"]  # id left to its default
    check_batch(all_null + mixed + twice)


VALUES = st.sampled_from(TRICKY)
RECORDS = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6),
    st.sampled_from([None, [], "record", 1]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shapes=st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5), min_size=1),
    picks=st.lists(st.tuples(st.integers(0, 50), st.sampled_from(KEYS), VALUES), max_size=40),
    odd=st.lists(st.tuples(st.integers(0, 60), RECORDS), max_size=3),
    repeat=st.integers(1, 30),
)
def test_column_wise_binding_matches_the_per_record_path(
    shapes: list[dict[str, Any]],
    picks: list[tuple[int, str, Any]],
    odd: list[tuple[int, Any]],
    repeat: int,
) -> None:
    """Runs of records sharing keys, with single values changed and odd records inserted."""
    records: list[Any] = [dict(shape) for shape in shapes for _ in range(repeat)]
    for index, key, value in picks:
        record = records[index % len(records)]
        if key in record:
            record[key] = value
    for index, record in odd:
        records.insert(index % (len(records) + 1), record)
    check_batch(records)


@pytest.mark.parametrize("base", ["int4", "numeric", "float8", "money", "uuid", "text", "bool"])
def test_every_tricky_value_alone_in_a_column(base: str) -> None:
    column = next(c for c in COLUMNS if c.base_type == base and not c.is_array)
    for value in TRICKY:
        records = [{"sku": f"s{i}", column.name: value} for i in range(5)]
        if column.name == "sku":
            records = [{"sku": value} for _ in range(5)]
        check_batch(records)
        check_batch([*records, {"sku": "other", column.name: 1}])


def test_runs_of_records_bound_one_by_one() -> None:
    bound = [
        BoundRecord({"sku": "a", "qty": 1}),
        BoundRecord({"qty": 2, "sku": "b"}),
        BoundRecord({}, error=ValueError("bad")),
        BoundRecord({"sku": "c"}),
    ]
    runs, errors = runs_of(TABLE, bound)
    assert [(r.start, r.stop, [c.name for c in r.columns]) for r in runs] == [
        (0, 2, ["sku", "qty"]),
        (3, 4, ["sku"]),
    ]
    assert runs[0].values == (["a", "b"], [1, 2])
    assert list(errors) == [2]
    batch = BoundOneByOne(TABLE, bound)
    assert [(s.start, s.stop, [c.name for c in s.columns]) for s in batch.spans] == [
        (0, 2, ["sku", "qty"]),
        (2, 3, []),
        (3, 4, ["sku"]),
    ]
    part = batch.bind(1, 2)
    assert [(r.start, r.stop, r.values) for r in part.runs] == [(1, 2, (["b"], [2]))]
    assert batch.bind(2, 3) == Binding((), {2: bound[2].error})  # type: ignore[dict-item]


def test_spans_and_a_chunk_of_one() -> None:
    records: list[Any] = [{"sku": f"s{i}", "qty": i} for i in range(30)]
    records[10] = "no object"
    records[20] = {"qty": 1, "sku": "s20"}  # the same keys in another order: same span
    creates = bind_creates(TABLE, records, bind_one)
    spans = [(s.start, s.stop, [c.name for c in s.columns]) for s in creates.spans]
    assert spans == [(0, 10, ["sku", "qty"]), (10, 11, []), (11, 30, ["sku", "qty"])]
    middle = creates.bind(12, 15)  # any part of a span binds on its own
    assert [(r.start, r.stop) for r in middle.runs] == [(12, 15)]
    assert list(creates.bind(10, 11).errors) == [10]


# --- COPY text ---------------------------------------------------------------------------------


def run_of(*columns: list[Any], start: int = 0) -> ColumnRun:
    cols = tuple(COLUMNS[1 : 1 + len(columns)])
    return ColumnRun(start, start + len(columns[0]), cols, tuple(columns))


def test_copy_text_escapes_and_spells_each_value_as_psycopg_does() -> None:
    run = run_of(
        ["plain", "tab\there", "back\\slash", None, "cr\rlf\n"],
        [1, None, True, Decimal("1.50"), Decimal("NaN")],
        [b"\x00\xff", Jsonb({"a": "t\tb"}), None, False, -(2**70)],
        start=10,
    )
    assert "".join(copy_text(run, 10, 15)) == (
        "10\tplain\t1\t\\\\x00ff\n"
        '11\ttab\\there\t\\N\t{"a": "t\\\\tb"}\n'
        "12\tback\\\\slash\tt\t\\N\n"
        "13\t\\N\t1.50\tf\n"
        "14\tcr\\rlf\\n\tNaN\t-1180591620717411303424\n"
    )


def test_copy_text_skips_records_and_comes_in_pieces() -> None:
    n = PIECE_ROWS * 2 + 5
    run = run_of([f"s{i}" for i in range(n)], list(range(n)), start=100)
    pieces = list(copy_text(run, 100, 100 + n))
    assert len(pieces) == 3
    lines = "".join(pieces).splitlines()
    assert lines[0] == "100\ts0\t0" and lines[-1] == f"{99 + n}\ts{n - 1}\t{n - 1}"
    some = list(copy_text(run, 102, 106, skip={103, 105, 1000}))
    assert "".join(some) == "102\ts2\t2\n104\ts4\t4\n"
    assert list(copy_text(run, 103, 104, skip={103})) == []
