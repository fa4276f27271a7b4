"""Compile stage, bulk creates: the staging table a chunk of records is COPYed into, the COPY
text of a chunk, and the INSERT ... SELECT that moves it into the target table. Pure: no I/O.

The staging table's columns are named by us (`n` for the record's place in the batch, `c<k>`
for the table's k-th column), so no user-chosen name is ever written into it; its types are the
target columns' own (CREATE TABLE AS ... WITH NO DATA), so COPY parses each value with the
column's input function, as PostgreSQL does for an untyped bound parameter.

The COPY text is built a column at a time (one type test per column and piece: strings that
need no escaping are written as they are, integers by `str`), then joined row by row, and
handed out in pieces of PIECE_ROWS rows so a chunk streams without one big buffer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Sequence
from decimal import Decimal
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from services.catalog.schema_cache import Column, Table
from services.plan.bind_batch import ColumnRun
from services.plan.types import BoundNode
from services.sql.fragments import checked_returning, column_ref, ident, qualified

STAGING = sql.Identifier("pg_temp", "gateway_bulk")
_T = sql.Identifier("_t")
_ORDINAL = sql.Identifier("n")


def _slot(column: Column) -> sql.Identifier:
    return sql.Identifier("c" + str(column.position))


def create_staging(table: Table, columns: tuple[Column, ...]) -> sql.Composed:
    """An empty temporary table with a slot per column, dropped at the end of the transaction."""
    slots = sql.SQL(", ").join(sql.SQL("{} AS {}").format(column_ref(c), _slot(c)) for c in columns)
    return sql.SQL(
        "CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS"
        " SELECT 0::bigint AS {n}, {slots} FROM {tbl} AS {t} WITH NO DATA"
    ).format(staging=STAGING, n=_ORDINAL, slots=slots, tbl=qualified(table), t=_T)


def clear_staging() -> sql.Composed:
    return sql.SQL("TRUNCATE {}").format(STAGING)


def copy_into_staging(columns: tuple[Column, ...]) -> sql.Composed:
    """`COPY staging (n, slots...) FROM STDIN`: rows are (ordinal, *values) in text format
    (see copy_text)."""
    slots = sql.SQL(", ").join(_slot(c) for c in columns)
    return sql.SQL("COPY {} ({}, {}) FROM STDIN").format(STAGING, _ORDINAL, slots)


def insert_from_staging(
    table: Table,
    columns: tuple[Column, ...],
    returning: tuple[Column, ...],
    check: BoundNode | None = None,
    params: list[Any] | None = None,
) -> sql.Composed:
    """Insert the staged rows in their order; one output JSON text per row, in that order
    (and, with a role's row filter as `check`, whether each new row satisfies it).

    Rows are inserted, and RETURNING emits them, in the order of the SELECT (as Django's
    bulk_create relies on for multi-row INSERT ... RETURNING).
    """
    return sql.SQL(
        "INSERT INTO {tbl} AS {t} ({cols}) SELECT {slots} FROM {staging} ORDER BY {n}"
        " RETURNING {ret}"
    ).format(
        tbl=qualified(table),
        t=_T,
        cols=sql.SQL(", ").join(ident(c.name) for c in columns),
        slots=sql.SQL(", ").join(_slot(c) for c in columns),
        staging=STAGING,
        n=_ORDINAL,
        ret=checked_returning(returning, check, [] if params is None else params),
    )


# --- COPY text --------------------------------------------------------------------------------

PIECE_ROWS = 1_000  # rows per piece of COPY text
_NULL = "\\N"
_NONE = type(None)


def copy_text(run: ColumnRun, start: int, stop: int, skip: Collection[int] = ()) -> Iterator[str]:
    """COPY text rows (`n`, then the run's columns) for records [start, stop) of `run`,
    leaving out the records in `skip`, in pieces of at most PIECE_ROWS rows."""
    for first in range(start, stop, PIECE_ROWS):
        last = min(first + PIECE_ROWS, stop)
        places = [i for i in range(first, last) if i not in skip] if skip else None
        if places is None:
            a, b = first - run.start, last - run.start
            ordinals: Sequence[int] = range(first, last)
            fields = [_texts(values[a:b]) for values in run.values]
        elif not places:
            continue
        else:
            ordinals = places
            fields = [_texts([values[i - run.start] for i in places]) for values in run.values]
        yield "\n".join(map("\t".join, zip(map(str, ordinals), *fields, strict=True))) + "\n"


def _texts(values: Sequence[Any]) -> Sequence[str]:
    """COPY fields for one column's values: one type test for all of them."""
    kinds = set(map(type, values))
    if kinds == {str}:
        return values if _plain(values) else [_escape(v) for v in values]
    if kinds == {int}:
        return list(map(str, values))
    if kinds == {str, _NONE}:
        escape = not _plain([v for v in values if v is not None])
        return [_NULL if v is None else _escape(v) if escape else v for v in values]
    return [_field(v) for v in values]


def _plain(texts: Sequence[str]) -> bool:
    """No text needs escaping in COPY's text format (backslash, tab, newline, return)."""
    joined = "".join(texts)
    return not ("\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _field(value: Any) -> str:
    """One value as psycopg's text dumper writes it for COPY (see services/plan/values.py for
    what a bound value can be)."""
    if value is None:
        return _NULL
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if kind is Decimal:
        return "NaN" if value.is_nan() else str(value)
    if kind is bytes:
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, Jsonb):
        dumps: Callable[[Any], str | bytes] = value.dumps or json.dumps
        text = dumps(value.obj)
        return _escape(text if isinstance(text, str) else text.decode())
    raise TypeError(f"no COPY text for a {kind.__name__} value")
