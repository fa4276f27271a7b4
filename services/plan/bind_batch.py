"""Bind stage for batch creates, column by column: many records -> runs of same-column values.

A batch of records is validated a column at a time instead of a value at a time: consecutive
records that give the same keys form a span; each of its columns is one list, checked with
one type test for the whole list (and, where a column's values are text that must be numbers
or UUIDs, one pattern match over all of them). Only the values those checks do not clear go
through `values.coerce` one by one, exactly as the per-record path does.

The outcome is the same as binding every record on its own (`bind_write._record_values`):

- a record the per-record path rejects is rejected, with the error that path gives (the error
  of such a record is taken from the per-record path itself, so the field it names and the
  order its checks run in are unchanged);
- a record it accepts is written with values PostgreSQL reads as the same: either the value
  `coerce` gives, or the client's own value where `coerce` would only have re-spelled it
  (a canonical decimal string for a numeric column, a UUID in any letter case).

`BoundCreates` is the record sequence of such a BoundWrite. The bind stage only finds its
spans (cheap); the bulk executor binds each chunk of a span when it gets to it
(`BoundCreates.bind`), so it can check the next chunk while PostgreSQL inserts the one
before. Indexing builds a record through the per-record path, for record-by-record writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice, pairwise, repeat
from operator import eq, itemgetter
from typing import Any, Protocol, overload

from core.errors import GatewayError
from services.catalog.schema_cache import Column, Table
from services.plan.expressions import is_expression
from services.plan.types import BoundRecord
from services.plan.values import coerce

BindOne = Callable[[Any], dict[str, Any]]  # the per-record path: a record's values, or raise

_NONE = type(None)
_INT_BOUNDS = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_NUMBERS = frozenset({"numeric", "float4", "float8", "money"})
_OWN_CHECKS = frozenset({"bool", "uuid", "json", "jsonb", "bytea"}) | _NUMBERS | set(_INT_BOUNDS)
_SEP = "\n"  # joins a column's strings for one pattern match; no pattern below matches it
# One item each, ASCII digits only (Python's \d takes other scripts' digits, PostgreSQL not).
# PostgreSQL's numeric and float input read such text as the same value as str(Decimal(text))
# (money's does not: coerce() may spell a small one 1E-7, which money refuses).
# (possessive quantifiers: no item ever needs to give characters back, and it is much faster)
_DECIMAL = r"-?[0-9]++(?:\.[0-9]++)?+"
_INTEGER = r"[+-]?(?:0*[1-9][0-9]{0,18}|0+)"  # at most bigint's 19 digits: int() stays cheap
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ALL_DECIMAL = re.compile(f"(?:{_DECIMAL}{_SEP})*+")
_ALL_INTEGER = re.compile(f"(?:{_INTEGER}{_SEP})*+")
_ALL_UUID = re.compile(f"(?:{_UUID}{_SEP})*+")


@dataclass(frozen=True, slots=True)
class ColumnRun:
    """Records [start, stop) of a batch that give the same columns (in table order), with one
    value list per column: `values[k][i - start]` is record i's value for `columns[k]`.

    A value is what the per-record path would bind (None, bool, int, Decimal, str, Jsonb,
    bytes) or text PostgreSQL reads as that. Records of the run that failed to bind keep
    whatever they gave; their errors are in the Binding, and no writer reads them.
    """

    start: int
    stop: int
    columns: tuple[Column, ...]
    values: tuple[Sequence[Any], ...]

    def part(self, start: int, stop: int) -> ColumnRun:
        """Records [start, stop) of this run (within it)."""
        a, b = start - self.start, stop - self.start
        return ColumnRun(start, stop, self.columns, tuple(v[a:b] for v in self.values))


@dataclass(frozen=True, slots=True)
class Span:
    """Records [start, stop) of a batch that give the same keys, and the columns those keys
    name (table order); a record that is not a JSON object is a span of its own, with none."""

    start: int
    stop: int
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Binding:
    """Records [start, stop) of a span, bound: runs of records that bound (in order, none
    overlapping), and the error of every record that did not, by index."""

    runs: tuple[ColumnRun, ...]
    errors: dict[int, Exception]


class CreateBatch(Protocol):
    """What the bulk executor reads of a batch create's records."""

    @property
    def spans(self) -> tuple[Span, ...]: ...

    def bind(self, start: int, stop: int) -> Binding:
        """Records [start, stop), within one span."""
        ...


class BoundCreates(Sequence[BoundRecord]):
    """The records of a batch create, bound column by column when asked (module docstring)."""

    __slots__ = ("_bind_one", "_raw", "_table", "spans")

    def __init__(self, table: Table, raw: Sequence[Any], bind_one: BindOne) -> None:
        self._table = table
        self._raw = raw
        self._bind_one = bind_one
        self.spans = tuple(
            Span(start, stop, _key_columns(table, raw[start])) for start, stop in _key_runs(raw)
        )

    def bind(self, start: int, stop: int) -> Binding:
        runs: list[ColumnRun] = []
        errors: dict[int, Exception] = {}
        if stop - start == 1 or type(self._raw[start]) is not dict:
            _bind_each(self._table, self._raw, start, stop, self._bind_one, runs, errors)
        else:
            _bind_run(self._table, self._raw, start, stop, self._bind_one, runs, errors)
        return Binding(tuple(runs), errors)

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> BoundRecord: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[BoundRecord]: ...

    def __getitem__(self, index: int | slice) -> BoundRecord | Sequence[BoundRecord]:
        if isinstance(index, slice):
            return [self._record(i) for i in range(*index.indices(len(self._raw)))]
        if index < 0:
            index += len(self._raw)
        if not 0 <= index < len(self._raw):
            raise IndexError(index)
        return self._record(index)

    def __iter__(self) -> Iterator[BoundRecord]:
        return (self._record(i) for i in range(len(self._raw)))

    def _record(self, index: int) -> BoundRecord:
        """The per-record path's BoundRecord (its error kept on it, as bind_write does)."""
        try:
            return BoundRecord(self._bind_one(self._raw[index]))
        except GatewayError as exc:
            return BoundRecord({}, error=exc)


def bind_creates(table: Table, records: Sequence[Any], bind_one: BindOne) -> BoundCreates:
    """The records of a batch create in `table`, to be bound column by column.

    `bind_one` is the per-record path (it raises a record's error): it decides every record
    the column checks do not clear, and names the error of every record that fails.
    """
    return BoundCreates(table, records, bind_one)


def bind_all(batch: CreateBatch) -> Binding:
    """Every record of a batch, bound (one Binding for all its spans)."""
    runs: list[ColumnRun] = []
    errors: dict[int, Exception] = {}
    for span in batch.spans:
        binding = batch.bind(span.start, span.stop)
        runs += binding.runs
        errors.update(binding.errors)
    return Binding(tuple(runs), errors)


class BoundOneByOne:
    """A CreateBatch over records already bound one by one (bind_write's BoundRecords):
    consecutive records whose values name the same columns share a span."""

    def __init__(self, table: Table, records: Sequence[BoundRecord]) -> None:
        self._runs, self._errors = runs_of(table, records)
        spans = [Span(r.start, r.stop, r.columns) for r in self._runs]
        spans += [Span(i, i + 1, ()) for i in self._errors]
        self.spans = tuple(sorted(spans, key=lambda span: span.start))

    def bind(self, start: int, stop: int) -> Binding:
        runs = tuple(
            r.part(max(start, r.start), min(stop, r.stop))
            for r in self._runs
            if r.start < stop and start < r.stop
        )
        return Binding(runs, {i: e for i, e in self._errors.items() if start <= i < stop})


def runs_of(
    table: Table, records: Sequence[BoundRecord]
) -> tuple[list[ColumnRun], dict[int, Exception]]:
    """Runs and errors of records already bound one by one (consecutive records whose values
    name the same columns share a run)."""
    runs: list[ColumnRun] = []
    errors: dict[int, Exception] = {}
    start = 0
    while start < len(records):
        first = records[start]
        if first.error is not None:
            errors[start] = first.error
            start += 1
            continue
        names = first.values.keys()
        stop = start + 1
        while (
            stop < len(records)
            and records[stop].error is None
            and records[stop].values.keys() == names
        ):
            stop += 1
        columns = tuple(c for c in table.columns if c.name in names)
        chunk = [r.values for r in records[start:stop]]
        values = tuple([v[c.name] for v in chunk] for c in columns)
        runs.append(ColumnRun(start, stop, columns, values))
        start = stop
    return runs, errors


# --- runs of records ------------------------------------------------------------------------


def _key_runs(records: Sequence[Any]) -> list[tuple[int, int]]:
    """[start, stop) of each stretch of consecutive records (JSON objects) with the same keys;
    anything else stands alone."""
    n = len(records)
    if n == 0:
        return []
    if set(map(type, records)) != {dict}:
        return _key_runs_slow(records)
    # key views compared one pair at a time (a list of 100k views would wake the GC)
    if all(map(eq, map(dict.keys, records), repeat(records[0].keys()))):  # the common case
        return [(0, n)]
    pairs = map(eq, map(dict.keys, records), map(dict.keys, islice(records, 1, None)))
    edges = [0, *(i + 1 for i, same in enumerate(pairs) if not same), n]
    return list(pairwise(edges))


def _key_columns(table: Table, record: Any) -> tuple[Column, ...]:
    """The columns a record's keys name (table order): what a span of it may write."""
    if type(record) is not dict:
        return ()
    named = {table.find_column(key) for key in record if isinstance(key, str)}
    return tuple(c for c in table.columns if c in named and not c.is_generated)


def _key_runs_slow(records: Sequence[Any]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start = 0
    while start < len(records):
        first = records[start]
        stop = start + 1
        if type(first) is dict:
            names = first.keys()
            while (
                stop < len(records)
                and type(records[stop]) is dict
                and records[stop].keys() == names
            ):
                stop += 1
        runs.append((start, stop))
        start = stop
    return runs


def _bind_each(
    table: Table,
    records: Sequence[Any],
    start: int,
    stop: int,
    bind_one: BindOne,
    runs: list[ColumnRun],
    errors: dict[int, Exception],
) -> None:
    """The per-record path for records [start, stop); runs of the records that bound."""
    bound: list[BoundRecord] = []
    for i in range(start, stop):
        try:
            bound.append(BoundRecord(bind_one(records[i])))
        except GatewayError as exc:
            bound.append(BoundRecord({}, error=exc))
    found, failed = runs_of(table, bound)
    runs += [ColumnRun(r.start + start, r.stop + start, r.columns, r.values) for r in found]
    errors.update((i + start, e) for i, e in failed.items())


def _bind_run(
    table: Table,
    records: Sequence[Any],
    start: int,
    stop: int,
    bind_one: BindOne,
    runs: list[ColumnRun],
    errors: dict[int, Exception],
) -> None:
    """Records [start, stop): JSON objects with the same keys, checked column by column."""
    chunk = records[start:stop]
    given: dict[Column, str] = {}
    for key in chunk[0]:
        column = table.find_column(key) if isinstance(key, str) else None
        if column is None or column.is_generated:
            continue  # dropped, as the per-record path does
        if column in given:  # two spellings of one column: which wins depends on key order
            _bind_each(table, records, start, stop, bind_one, runs, errors)
            return
        given[column] = key
    bad: set[int] = set()
    checked: dict[Column, Sequence[Any]] = {}
    for column, key in given.items():
        values = list(map(itemgetter(key), chunk))
        if dict in set(map(type, values)) and any(map(is_expression, values)):
            _bind_each(table, records, start, stop, bind_one, runs, errors)  # spec §3.11
            return
        if column.auto_increment and None in values:  # null there means "use the default"
            if any(v is not None for v in values):
                _bind_each(table, records, start, stop, bind_one, runs, errors)
                return
            continue  # left out of every record
        out, rejected = check_column(column, values)
        checked[column] = out
        bad.update(rejected)
    columns = tuple(c for c in table.columns if c in checked)
    if not columns or any(c.required and c not in checked for c in table.columns):
        bad = set(range(len(chunk)))  # every record fails, each with its first error
    for i in sorted(bad):
        errors[start + i] = _error_of(bind_one, chunk[i])
    if len(bad) < len(chunk):
        runs.append(ColumnRun(start, stop, columns, tuple(checked[c] for c in columns)))


def _error_of(bind_one: BindOne, record: Any) -> Exception:
    try:
        bind_one(record)
    except GatewayError as exc:
        return exc
    # the column checks reject only what coerce() (or a NOT NULL column) rejects
    raise AssertionError("a record refused column-wise binds on its own")


# --- one column -----------------------------------------------------------------------------


def check_column(column: Column, values: list[Any]) -> tuple[Sequence[Any], list[int]]:
    """The values to write for one column of a run, and the places whose value the
    per-record path rejects (None in a NOT NULL column, or any value coerce() refuses).

    One type test covers the column; values it does not clear are coerced one by one.
    """
    kinds = set(map(type, values))
    nulls: list[int] = []
    present = values
    if _NONE in kinds:
        kinds.discard(_NONE)
        present = [v for v in values if v is not None]
        if not column.nullable:
            nulls = [i for i, v in enumerate(values) if v is None]
    if not kinds:
        return values, nulls
    if len(kinds) == 1 and not column.is_array:
        cleared = _cleared(column, next(iter(kinds)), values, present)
        if cleared is not None:
            return cleared, nulls
    return _coerce_each(column, values, nulls)


def _cleared(
    column: Column, kind: type, values: list[Any], present: list[Any]
) -> Sequence[Any] | None:
    """The column's values to write when one check clears every value (`present`: the
    values but None, all of type `kind`); None: each value must be coerced on its own."""
    base = column.base_type
    if base in _INT_BOUNDS:
        if kind is int:
            numbers = values
        elif kind is str and _all_match(_ALL_INTEGER, present):
            numbers = [None if v is None else int(v) for v in values]
            present = [v for v in numbers if v is not None]
        else:
            return None
        bound = _INT_BOUNDS[base]
        return numbers if -bound <= min(present) and max(present) < bound else None
    if base in _NUMBERS:
        if kind is int or kind is Decimal:  # coerce() gives the same digits
            return values
        if kind is str and base != "money" and _all_match(_ALL_DECIMAL, present):
            return values
        return None
    if base == "bool":
        return values if kind is bool else None
    if base == "uuid":
        return values if kind is str and _all_match(_ALL_UUID, present) else None
    if base in _OWN_CHECKS:  # json, jsonb, bytea: coerce() converts every value
        return None
    # text, and every type PostgreSQL parses itself (dates, times, enums, ...): strings as given
    return values if kind is str and "\x00" not in "".join(present) else None


def _all_match(pattern: re.Pattern[str], texts: list[str]) -> bool:
    joined = _SEP.join(texts) + _SEP
    # a separator inside a value would split it into two items that each match
    return joined.count(_SEP) == len(texts) and pattern.fullmatch(joined) is not None


def _coerce_each(
    column: Column, values: list[Any], nulls: list[int]
) -> tuple[list[Any], list[int]]:
    out = list(values)
    bad = list(nulls)
    for i, value in enumerate(values):
        if value is None:
            continue
        try:
            out[i] = coerce(column, value)
        except GatewayError:
            bad.append(i)
    return out, bad
