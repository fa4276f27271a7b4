"""`_func` and `_proc` (spec §5): list and describe stored routines, and call them.

Names are resolved against the per-service routine catalog before any SQL is built; a call is
one statement on the service's pool in autocommit (so a procedure may COMMIT inside).
Database errors read `Failed to call database stored function.` (or procedure) and then the
classified, SQL-free message.
"""

from __future__ import annotations

from typing import Any

import psycopg

from core.errors import BadRequest, GatewayError, NotFound
from core.flags import is_true
from core.responses import label_for
from core.verbs import verb_names
from services.catalog.routines import Routine, RoutineCatalog, RoutineKind, load_catalog
from services.catalog.schema_cache import NotInCache
from services.execution import executor
from services.execution.pgerrors import classify
from services.execution.routine_results import function_body, procedure_body, read_options
from services.plan.routine_args import (
    BoundCall,
    bind_call,
    choose_overload,
    gather_params,
    split_inline,
)
from services.resources import ResourceCall, ResourceResult
from services.sql.routines import compile_function, compile_procedure, compile_value_check

_LIST_FIELDS = ("name", "label", "description", "native", "access")
_NOUN = {"function": "Function", "procedure": "Procedure"}


def handle(call: ResourceCall) -> ResourceResult:
    """GET the list or descriptions; GET or POST /{name} to call a routine."""
    kind: RoutineKind = "procedure" if call.resource == "_proc" else "function"
    if not call.segments:
        if call.verb != "GET":
            raise BadRequest(
                f"{call.verb} is not supported on /{call.resource}; GET lists the "
                f"{kind}s, GET or POST /{call.resource}/{{name}} calls one."
            )
        return _list(call, kind)
    if call.verb not in ("GET", "POST"):
        raise BadRequest(
            f"{call.verb} is not supported on /{call.resource}/{{name}}; "
            f"call a {kind} with GET or POST."
        )
    return _call(call, kind)


def _flag(call: ResourceCall, name: str) -> bool:
    value = call.query.get(name)
    if value is None and isinstance(call.body, dict):
        value = call.body.get(name)
    return is_true(value)


def _catalog(call: ResourceCall) -> RoutineCatalog:
    def build() -> RoutineCatalog:
        return executor.read(
            call.live, lambda conn: load_catalog(conn, call.live.config.schema), catalog=True
        )

    catalog: RoutineCatalog = call.live.cached("routines", build, refresh=_flag(call, "refresh"))
    return catalog


class UnknownRoutine(NotInCache, NotFound):
    pass


def _not_found(kind: RoutineKind, name: str) -> NotFound:
    return UnknownRoutine(f"{_NOUN[kind]} '{name}' does not exist in the database.")


# --- listing and describing ---------------------------------------------------------------


def _names_from(value: Any) -> list[str] | None:
    """`ids=a,b`, or a body list of names (or of {"name": ...} objects)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = [v.get("name") if isinstance(v, dict) else v for v in value]
    else:
        items = [value]
    names = [str(v).strip() for v in items if v is not None and str(v).strip()]
    return names or None


def _requested_ids(call: ResourceCall) -> list[str] | None:
    if "ids" in call.query:
        return _names_from(call.query["ids"])
    body = call.body
    if isinstance(body, dict):
        body = body.get("ids", body.get("resource"))
    return _names_from(body) if isinstance(body, (list, str)) else None


def _describe(routine: Routine, mask: int) -> dict[str, Any]:
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


def _list(call: ResourceCall, kind: RoutineKind) -> dict[str, Any]:
    catalog = _catalog(call)
    ids = _requested_ids(call)
    if ids is not None:  # named routines: each must be reachable, like calling it
        described = []
        for name in ids:
            overloads = catalog.find(kind, name)
            if overloads is None:
                raise _not_found(kind, name)
            mask = call.grant.check(f"{call.resource}/{name}", "GET").verbs
            described.extend(_describe(r, mask) for r in overloads)
        return {"resource": described}
    # the list holds only the routines the caller's role reaches
    masks = {n: call.grant.mask(f"{call.resource}/{n}") for n in catalog.names(kind)}
    names = [n for n, m in masks.items() if m]
    if _flag(call, "as_list"):
        return {"resource": names}
    fields_value = call.query.get("fields")
    if fields_value is None and isinstance(call.body, dict):
        fields_value = call.body.get("fields")
    fields = [f.strip() for f in str(fields_value or "name").split(",") if f.strip()]
    wanted = _LIST_FIELDS if "*" in fields else tuple(f for f in _LIST_FIELDS if f in fields)
    out = []
    for name in names:
        routine = catalog.routines[kind][name][0]
        full = {
            "name": name,
            "label": label_for(name),
            "description": routine.description,
            "native": [],
            "access": verb_names(masks[name]),
        }
        out.append({k: full[k] for k in wanted or ("name",)})
    return {"resource": out}


# --- calling ------------------------------------------------------------------------------


def _call(call: ResourceCall, kind: RoutineKind) -> bytes:
    catalog = _catalog(call)
    path_name = "/".join(call.segments)
    name, inline = path_name, None
    overloads = catalog.find(kind, path_name)
    if overloads is None:
        name, inline = split_inline(path_name)
        overloads = catalog.find(kind, name) if name != path_name else None
    if overloads is None:
        raise _not_found(kind, name)
    prefix = f"Failed to call database stored {kind}."
    given = gather_params(call.body, inline, call.query, overloads)
    bound = bind_call(choose_overload(overloads, given), given, prefix)
    options = read_options(call.query, call.body)
    if kind == "function":
        stmt = compile_function(bound)
    else:
        stmt = compile_procedure(bound)
    # a function may write as well as a procedure: neither is retried on a lost connection
    with executor.connection(call.live, write=True) as conn:
        try:
            cursor = conn.execute(stmt.query, stmt.params)
            row = cursor.fetchone() if cursor.description is not None else None
            columns = [c.name for c in cursor.description] if cursor.description else None
        except psycopg.Error as exc:
            raise _call_error(conn, exc, prefix, bound) from None
    if kind == "function":
        return function_body(bound.routine, row[0] if row else None, options)
    return procedure_body(columns, row, options)


def _bad_value(conn: psycopg.Connection[Any], bound: BoundCall) -> tuple[str, str] | None:
    """After a data error, find the argument whose value does not parse as its type.

    Runs only on the error path: each value is cast alone, so the 400 can name the parameter
    instead of only quoting PostgreSQL's message.
    """
    for arg in bound.args:
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
    conn: psycopg.Connection[Any], exc: psycopg.Error, prefix: str, bound: BoundCall
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
    message = error.message
    if state[:2] in ("22", "23"):
        try:
            bad = _bad_value(conn, bound)
        except psycopg.Error:
            bad = None
        if bad is not None:
            name, reason = bad
            return BadRequest(
                f"{prefix}\nInvalid value for parameter '{name}': {reason}",
                code=state,
                context={"param": name},
            )
    return type(error)(
        f"{prefix}\n{message}", code=error.code, context=error.context, headers=error.headers
    )
