"""Compile routine calls (spec §5.2) to Statements: SELECT for functions, CALL for procedures.

Routine, parameter and type names come only from the routine catalog and are quoted by
sql.Identifier; every value is a bound parameter cast to the parameter's declared type, so
the overload PostgreSQL runs is the one we resolved. PostgreSQL builds the result's JSON.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from services.plan.routine_args import BoundArg, BoundCall
from services.sql.cache import statements
from services.sql.compile import Statement
from services.sql.fragments import ident

_ROWS = sql.SQL("coalesce('[' || string_agg(row_to_json(_r)::text, ',') || ']', '[]')")


def _type(arg: BoundArg) -> sql.Composable:
    return ident(arg.param.type_schema, arg.param.type_name)


def arg_value(arg: BoundArg, params: list[Any]) -> sql.Composable:
    """The expression for one argument's value (its placeholder appended to `params`)."""
    params.append(arg.value)
    if arg.form == "raw":
        return sql.Placeholder()
    if arg.form == "record":
        return sql.SQL("json_populate_record(NULL::{}, %s::json)").format(_type(arg))
    return sql.SQL("CAST(%s AS {})").format(_type(arg))


def _arguments(call: BoundCall, params: list[Any]) -> sql.Composable:
    items = []
    for arg in call.args:
        value = arg_value(arg, params)
        if call.named:
            value = sql.SQL("{} => {}").format(ident(arg.param.name), value)
        if arg.param.mode == "VARIADIC":
            value = sql.SQL("VARIADIC {}").format(value)
        items.append(value)
    return sql.SQL(", ").join(items)


def invocation(call: BoundCall, params: list[Any]) -> sql.Composable:
    """`schema.fn(p => value, ...)` (positional when a passed parameter has no name)."""
    routine = call.routine
    return sql.SQL("{}({})").format(
        ident(routine.schema, routine.db_name), _arguments(call, params)
    )


def _shape(kind: str, call: BoundCall) -> tuple[Any, ...]:
    """What decides a call's statement text (never its values): the routine and, per argument,
    its parameter and the form its value takes."""
    return (
        kind,
        id(call.routine),
        call.named,
        tuple((a.param.position, a.form) for a in call.args),
    )


def _values(call: BoundCall) -> list[Any]:
    return [arg.value for arg in call.args]


def compile_function(call: BoundCall, limit: int | None = None, offset: int = 0) -> Statement:
    """One row, one text column: the result's JSON (a scalar, an object, or an array of rows).
    A set's rows are paged by `limit`/`offset` in PostgreSQL (None: every row). The text is
    rendered once per call shape (services/sql/cache.py)."""
    params = _values(call)
    paged = limit is not None and call.routine.returns_set and call.routine.shape != "void"
    if paged:
        params += [limit, offset]
    text = statements.text(
        (*_shape("function", call), paged),
        lambda p: _compose_function(call, p, (limit, offset) if paged else None),
        params,
        call.routine,
    )
    return Statement(text, params)


def _compose_function(
    call: BoundCall, params: list[Any], page: tuple[int | None, int] | None = None
) -> sql.Composable:
    fn = invocation(call, params)
    routine = call.routine
    if routine.shape == "void":  # the (empty) value is not read: the answer is null
        return sql.SQL("SELECT {}").format(fn)
    if not routine.returns_set:
        return sql.SQL("SELECT to_json({})::text").format(fn)
    if routine.shape == "scalar":  # SETOF integer, RETURNS TABLE(x int): rows of one column
        rows: sql.Composable = sql.SQL("(SELECT _f._v AS {} FROM {} AS _f(_v))").format(
            ident(routine.value_column), fn
        )
    else:
        rows = fn
    if page is not None:  # the function's own row order, cut in PostgreSQL
        rows = sql.SQL("(SELECT * FROM {} AS _s LIMIT %s OFFSET %s)").format(rows)
        params.extend(page)
    return sql.SQL("SELECT {} FROM {} AS _r").format(_ROWS, rows)


def compile_procedure(call: BoundCall) -> Statement:
    """`CALL schema.proc(...)`: one row of the OUT/INOUT values, or no result at all."""
    params = _values(call)
    text = statements.text(
        _shape("procedure", call),
        lambda p: sql.SQL("CALL {}").format(invocation(call, p)),
        params,
        call.routine,
    )
    return Statement(text, params)


def compile_value_check(arg: BoundArg) -> Statement:
    """`SELECT CAST(%s AS type)`: does this one value parse as its parameter's type?"""
    params: list[Any] = []
    return Statement(sql.SQL("SELECT {}").format(arg_value(arg, params)), params)
