"""Compile stage, bulk creates: the staging table a chunk of records is COPYed into, and the
INSERT ... SELECT that moves it into the target table. Pure: no I/O.

The staging table's columns are named by us (`n` for the record's place in the chunk, `c<k>`
for the table's k-th column), so no user-chosen name is ever written into it; its types are the
target columns' own (CREATE TABLE AS ... WITH NO DATA), so COPY parses each value with the
column's input function, as PostgreSQL does for an untyped bound parameter.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
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
    """`COPY staging (n, slots...) FROM STDIN`: rows are (ordinal, *values) in text format."""
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
