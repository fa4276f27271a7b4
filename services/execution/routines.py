"""Execute stage for `_func` and `_proc` (spec §5): list and describe routines, and run a call.

A call is the one statement compiled from its bound plan (services/sql/routines.py), run in
autocommit so a procedure may COMMIT inside; it is never retried (a function may write too).
Database errors read `Failed to call database stored function.` (or procedure) and then the
classified, SQL-free message; a data error names the argument whose value does not parse.
"""

from __future__ import annotations

from typing import Any

import psycopg

from core.access import Access
from core.errors import BadRequest, GatewayError
from core.responses import label_for
from core.verbs import verb_names
from services.catalog.routines import Routine
from services.db import executor
from services.db.pgerrors import classify
from services.execution.routine_results import function_body, procedure_body
from services.plan.routine_args import BoundCall, UnknownRoutine
from services.plan.types import BoundRoutineCall, BoundRoutineList
from services.registry import LiveService
from services.sql.compile import Statement
from services.sql.routines import compile_value_check

_LIST_FIELDS = ("name", "label", "description", "native", "access")


def describe(routine: Routine, mask: int) -> dict[str, Any]:
    """The full description of one routine (spec §5.1)."""
    return {
        "name": routine.name,
        "label": label_for(routine.name),
        "description": routine.description,
        "native": [],
        "return_type": routine.return_type,
        "return_schema": [
            {"name": c.name, "type": c.simple_type, "db_type": c.db_type}
            for c in routine.return_columns
        ],
        "params": [
            {
                "name": p.name,
                "position": p.position,
                "param_type": p.param_type,
                "type": p.simple_type,
                "db_type": p.db_type,
                "length": None,  # PostgreSQL keeps no length/precision for routine arguments
                "precision": None,
                "scale": None,
                "default": p.default,
            }
            for p in routine.params
        ],
        "access": mask,
    }


def list_routines(bound: BoundRoutineList, access: Access) -> dict[str, Any]:
    """GET /_func, /_proc: what the caller's role reaches, or the named routines described."""
    plan, catalog = bound.plan, bound.catalog
    resource = "_proc" if plan.kind == "procedure" else "_func"
    if plan.names is not None:  # named routines: each must be reachable, like calling it
        described: list[dict[str, Any]] = []
        for name in plan.names:
            overloads = catalog.find(plan.kind, name)
            if overloads is None:
                raise UnknownRoutine.named(plan.kind, name)
            mask = access.check(f"{resource}/{name}", "GET").verbs
            described.extend(describe(r, mask) for r in overloads)
        return {"resource": described}
    # the list holds only the routines the caller's role reaches
    masks = {n: access.mask(f"{resource}/{n}") for n in catalog.names(plan.kind)}
    names = [n for n, m in masks.items() if m]
    if plan.as_list:
        return {"resource": names}
    wanted = (
        _LIST_FIELDS if "*" in plan.fields else tuple(f for f in _LIST_FIELDS if f in plan.fields)
    )
    out = []
    for name in names:
        routine = catalog.routines[plan.kind][name][0]
        full = {
            "name": name,
            "label": label_for(name),
            "description": routine.description,
            "native": [],
            "access": verb_names(masks[name]),
        }
        out.append({k: full[k] for k in wanted or ("name",)})
    return {"resource": out}


def call_routine(live: LiveService, bound: BoundRoutineCall, stmt: Statement) -> bytes:
    """Run the call; the function's JSON (built by PostgreSQL) or the procedure's OUT values."""
    call, prefix = bound.call, bound.prefix
    with executor.connection(live, write=True) as conn:
        try:
            cursor = executor.run(conn, stmt.query, stmt.params)
            description = cursor.description  # psycopg builds it anew on every access
            row = cursor.fetchone() if description is not None else None
            columns = (
                [c.name for c in description]
                if description and bound.plan.kind == "procedure"
                else None
            )
        except psycopg.Error as exc:
            raise _call_error(conn, exc, prefix, call) from None
    if bound.plan.kind == "function":
        return function_body(call.routine, row[0] if row else None, bound.plan.options)
    return procedure_body(columns, row, bound.plan.options)


def bad_value(
    conn: psycopg.Connection[Any], exc: psycopg.Error, call: BoundCall
) -> tuple[str, str] | None:
    """After a data error (SQLSTATE class 22 or 23), the argument whose value does not parse
    as its type and why; None for another error, no such argument, or a failed check.

    Runs only on the error path: each value is cast alone, so the 400 can name the parameter
    instead of only quoting PostgreSQL's message.
    """
    if (exc.sqlstate or "")[:2] not in ("22", "23"):
        return None
    try:
        return _first_bad_value(conn, call)
    except psycopg.Error:
        return None


def _first_bad_value(conn: psycopg.Connection[Any], call: BoundCall) -> tuple[str, str] | None:
    for arg in call.args:
        if arg.form == "raw" or arg.value is None:
            continue
        stmt = compile_value_check(arg)
        try:
            conn.execute(stmt.query, stmt.params)
        except psycopg.Error as exc:
            if (exc.sqlstate or "")[:2] not in ("22", "23"):
                return None
            return arg.param.name or f"${arg.param.position}", classify(exc).message
    return None


def _call_error(
    conn: psycopg.Connection[Any], exc: psycopg.Error, prefix: str, call: BoundCall
) -> GatewayError:
    """The classified error, its message led by DF's `Failed to call database stored ...`."""
    state = exc.sqlstate or ""
    if state == "P0001":  # RAISE EXCEPTION: the routine's own message is meant for the caller
        diag = exc.diag
        detail = {"detail": diag.message_detail, "hint": diag.message_hint}
        return BadRequest(
            f"{prefix}\n{diag.message_primary or 'The routine raised an exception.'}",
            code=state,
            context={k: v for k, v in detail.items() if v} or None,
        )
    error = classify(exc)
    bad = bad_value(conn, exc, call)
    if bad is not None:
        name, reason = bad
        return BadRequest(
            f"{prefix}\nInvalid value for parameter '{name}': {reason}",
            code=state,
            context={"param": name},
        )
    return type(error)(
        f"{prefix}\n{error.message}", code=error.code, context=error.context, headers=error.headers
    )
