"""Stage 6 and 7 of the PostgREST dialect's `/rpc/<fn>`: its arguments and result shaping ->
the routine-call plan types `/api/v2` uses (RoutineCall, BoundCall), plus a TableRead for the
`select`, filters, `order`, `limit` and `offset` applied to a set-returning function's rows.

Arguments (PostgREST's rules): a POST body's keys name them; with `Prefer: params=single-object`,
or when the function's one parameter is an unnamed json/jsonb, the whole body is that argument.
A GET's query keys naming a parameter are arguments; every other key shapes the result. Pure:
the routine overloads come in, no SQL goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import BadRequest, NotFound
from services.catalog.routines import Routine
from services.catalog.schema_cache import Column, SchemaCache, Table
from services.config import ServiceConfig
from services.plan.bind_read import bind_read
from services.plan.pgrst_parse import PgrstQuery, parse_pgrst_read
from services.plan.routine_args import (
    BoundCall,
    GivenParams,
    bind_call,
    choose_overload,
    stand_in_column,
)
from services.plan.types import NO_BODY, BoundRead, RoutineCall, TableRead

_JSON = frozenset({"json", "jsonb"})


@dataclass(frozen=True, slots=True)
class RpcQuery:
    """A PostgREST call as the request stage found it."""

    name: str  # the API name (qualified with its schema outside the default one)
    method: str  # GET, HEAD or POST
    body: Any  # the parsed JSON body, or NO_BODY
    single_object: bool  # Prefer: params=single-object
    pairs: tuple[tuple[str, str], ...]  # the query string, in order
    range_start: int | None = None
    range_end: int | None = None
    count: bool = False


@dataclass(frozen=True, slots=True)
class RpcPlan:
    plan: RoutineCall  # what `/api/v2` would call (its kind, name and arguments)
    call: BoundCall  # the overload chosen, each argument coerced for its parameter
    shaping: TableRead | None  # select/filters/order/limit/offset on the rows (None: none)


def unknown_function(name: str, given: tuple[str, ...], *, single: bool = False) -> NotFound:
    """PGRST202: no function of that name takes these arguments."""
    args = "a single json or jsonb argument" if single else f"the arguments ({', '.join(given)})"
    return NotFound(
        f"Could not find the function {name}({', '.join(given)}) in the schema cache",
        context={
            "pgrst": "PGRST202",
            "details": f"Searched for the function {name} with {args}, but no matches were found",
            "hint": "Check the name and the arguments, or refresh the schema cache.",
        },
    )


def _param_names(overloads: tuple[Routine, ...]) -> set[str]:
    return {p.name.casefold() for r in overloads for p in r.inputs if p.name}


def _single_json(overloads: tuple[Routine, ...], *, unnamed: bool) -> Routine | None:
    """The overload whose one input is a json/jsonb parameter (an unnamed one if asked)."""
    for routine in overloads:
        inputs = routine.inputs
        if len(inputs) == 1 and inputs[0].base_type in _JSON and not inputs[0].is_output:
            if not unnamed or not inputs[0].name:
                return routine
    return None


def _given(query: RpcQuery, overloads: tuple[Routine, ...]) -> tuple[GivenParams, Routine | None]:
    """The arguments, and the overload when the arguments' form already decides it."""
    if query.method == "POST":
        body = {} if query.body is NO_BODY else query.body
        whole = _single_json(overloads, unnamed=False) if query.single_object else None
        if query.single_object:
            if whole is None:
                raise unknown_function(query.name, (), single=True)
            return GivenParams(positional=(body,)), whole
        unnamed = _single_json(overloads, unnamed=True)
        if unnamed is not None and len(overloads) == 1:
            return GivenParams(positional=(body,)), unnamed
        if not isinstance(body, dict):
            raise BadRequest(
                "The body of a function call must be a JSON object of its arguments "
                '(e.g. {"a": 1}); send Prefer: params=single-object to pass it whole.',
                context={"pgrst": "PGRST102"},
            )
        return GivenParams(named={str(k): v for k, v in body.items()}), None
    known = _param_names(overloads)
    named = {k: v for k, v in query.pairs if k.casefold() in known}
    return GivenParams(named=named), None


def _shaping_pairs(query: RpcQuery, overloads: tuple[Routine, ...]) -> tuple[tuple[str, str], ...]:
    if query.method == "POST":
        return query.pairs
    known = _param_names(overloads)
    return tuple((k, v) for k, v in query.pairs if k.casefold() not in known)


def returns_rows(routine: Routine) -> bool:
    """Rows come out: a set, or one composite row (which filters and select apply to)."""
    if routine.kind != "function" or routine.shape == "void":
        return False
    return routine.returns_set or routine.shape == "row"


def plan_rpc(query: RpcQuery, overloads: tuple[Routine, ...]) -> RpcPlan:
    """The overload to call with its bound arguments, and how to shape its rows; 404 PGRST202
    when no overload takes the arguments given, 400 for a value that does not fit its type."""
    given, chosen = _given(query, overloads)
    first = overloads[0]
    if chosen is None:
        names = tuple((given.named or {}).keys())
        try:
            chosen = choose_overload(overloads, given)
        except BadRequest as exc:
            if "is overloaded" in exc.message:
                raise BadRequest(
                    exc.message, context={"pgrst": "PGRST203", "details": exc.context}
                ) from None
            raise unknown_function(query.name, names) from None
    try:
        call = bind_call(chosen, given, "")
    except BadRequest as exc:  # a value that does not fit its parameter's type
        param = exc.context.get("param") if isinstance(exc.context, dict) else None
        raise BadRequest(
            exc.message.strip(),
            context={"pgrst": "22P02", "details": f"parameter {param}" if param else None},
        ) from None
    pairs = _shaping_pairs(query, overloads)
    shaping = None
    if pairs or query.range_start is not None or query.range_end is not None or query.count:
        if not returns_rows(chosen):
            raise BadRequest(
                f"{first.kind.capitalize()} {first.name} returns no rows to shape: select, "
                "filters, order, limit, offset, Range and count apply to functions returning "
                "rows.",
                context={"pgrst": "PGRST100", "details": ", ".join(k for k, _ in pairs) or None},
            )
        shaping = parse_pgrst_read(
            PgrstQuery(
                table=first.name,
                pairs=pairs,
                range_start=query.range_start,
                range_end=query.range_end,
                count=query.count,
            )
        )
    plan = RoutineCall(kind=first.kind, name=first.name, query=query.pairs)
    return RpcPlan(plan=plan, call=call, shaping=shaping)


# format_type() spellings -> pg_type names, for the columns of a result that is not a table's
_TYPNAMES = {
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "numeric": "numeric",
    "real": "float4",
    "double precision": "float8",
    "boolean": "bool",
    "text": "text",
    "character varying": "varchar",
    "character": "bpchar",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time without time zone": "time",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
}
_CATEGORIES = {
    "int2": "N",
    "int4": "N",
    "int8": "N",
    "numeric": "N",
    "float4": "N",
    "float8": "N",
    "bool": "B",
    "date": "D",
    "timestamp": "D",
    "timestamptz": "D",
    "time": "D",
    "text": "S",
    "varchar": "S",
    "bpchar": "S",
}


def _column(
    name: str, position: int, db_type: str, base: str | None, category: str | None
) -> Column:
    is_array = db_type.endswith("[]")
    spelled = db_type.removesuffix("[]").split("(")[0].strip()
    base = base or _TYPNAMES.get(spelled, spelled)
    category = category or ("A" if is_array else _CATEGORIES.get(base, "U"))
    return stand_in_column(name, position, db_type, base, category, "string")


def result_table(routine: Routine, schema: SchemaCache) -> Table:
    """The function's rows as a table to bind the shaping against: a table's own columns for
    `SETOF table`, else its OUT/TABLE parameters, its composite type's columns, or (a set of
    scalars) one column named after the function."""
    own = schema.find_table(routine.return_db_type)
    if own is not None:
        columns = own.columns
    elif routine.shape == "scalar":
        outs = routine.outputs
        name = routine.value_column
        base = outs[0].base_type if len(outs) == 1 else None
        category = outs[0].category if len(outs) == 1 else None
        columns = (_column(name, 1, routine.return_db_type, base, category),)
    elif routine.outputs:
        columns = tuple(
            _column(p.name, n, p.db_type, p.base_type, p.category)
            for n, p in enumerate(routine.outputs, 1)
        )
    else:
        columns = tuple(
            _column(c.name, n, c.db_type, None, None)
            for n, c in enumerate(routine.return_columns, 1)
        )
    return Table(
        name=routine.name,
        schema=routine.schema,
        db_name=routine.db_name,
        is_view=True,
        columns=columns,
        primary_key=(),
        verbs=1,
    )


def bind_rows(shaping: TableRead | None, table: Table, config: ServiceConfig) -> BoundRead:
    """The shaping bound against the function's rows (every row, capped by max_records, when
    nothing shapes them)."""
    plan = shaping or TableRead(table=table.name)
    return bind_read(plan, SchemaCache(tables={table.name.lower(): table}), config)
