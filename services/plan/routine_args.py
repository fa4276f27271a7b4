"""Routine parameters: gather them from the request, pick the overload, bind typed values.

Sources (spec §5.2), first that yields any: the body's `params` (list of {name, value}, object,
or positional list), the inline path `fn(1,abc)`, then query keys named like a parameter.
Values are coerced for the declared types here so a 400 names the parameter; no SQL is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.types.json import Jsonb

from core.errors import BadRequest, NotFound
from services.catalog.routines import Routine, RoutineParam
from services.catalog.schema_cache import Column, NotInCache
from services.plan.values import check_nesting, coerce

MISSING: Any = object()  # a parameter named without a value (e.g. an OUT parameter)
_NOUN = {"function": "Function", "procedure": "Procedure"}


class UnknownRoutine(NotInCache, NotFound):
    """No routine of that name in the catalog (it may exist in the database by now)."""

    @classmethod
    def named(cls, kind: str, name: str) -> UnknownRoutine:
        return cls(f"{_NOUN[kind]} '{name}' does not exist in the database.")


_INLINE = re.compile(r"^(?P<name>[^(]*)\((?P<args>.*)\)$", re.DOTALL)
_VALUE_KEYS = frozenset({"name", "value", "param_type", "type"})


@dataclass(frozen=True, slots=True)
class GivenParams:
    """What the request supplied: names -> values, or positional values, or nothing."""

    named: dict[str, Any] | None = None
    positional: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class BoundArg:
    """One argument of the call: the parameter, its bound value and how SQL should take it."""

    param: RoutineParam
    value: Any  # the bound parameter value; None is NULL
    form: Literal["cast", "record", "raw"]  # CAST(%s AS type), json_populate_record, bare %s


@dataclass(frozen=True, slots=True)
class BoundCall:
    routine: Routine
    args: tuple[BoundArg, ...]
    named: bool  # named notation (p => v), so omitted parameters take their defaults


def split_inline(path_name: str) -> tuple[str, tuple[str, ...] | None]:
    """`fn(1,abc)` -> ("fn", ("1", "abc")); values are taken literally (spec §5.2)."""
    match = _INLINE.match(path_name)
    if match is None:
        return path_name, None
    args = match.group("args")
    return match.group("name"), (tuple(args.split(",")) if args != "" else None)


def _unwrap(value: Any) -> Any:
    """`{"value": 5}` -> 5 (the object form may wrap values); other values as they are."""
    if isinstance(value, dict) and "value" in value and set(value) <= _VALUE_KEYS:
        return value["value"]
    return value


def _from_body(params: Any) -> GivenParams | None:
    if params is None or params == [] or params == {}:
        return None
    if isinstance(params, dict):
        return GivenParams(named={str(k): _unwrap(v) for k, v in params.items()})
    if not isinstance(params, list):
        raise BadRequest(
            'params must be a list (e.g. [{"name": "p_id", "value": 5}] or [5, "abc"]) '
            'or an object (e.g. {"p_id": 5}).'
        )
    named = [isinstance(p, dict) and "name" in p for p in params]
    if all(named):
        return GivenParams(named={str(p["name"]): p.get("value", MISSING) for p in params})
    if any(named):
        raise BadRequest(
            'params mixes named entries ({"name": ..., "value": ...}) with positional '
            "values; use one form."
        )
    return GivenParams(positional=tuple(params))


def gather_params(
    body_params: Any,
    inline: tuple[str, ...] | None,
    query: Mapping[str, str],
    overloads: tuple[Routine, ...],
) -> GivenParams:
    """The parameters from the first source that yields any: the body's `params`, the inline
    path, the query (only names some overload has)."""
    from_body = _from_body(body_params)
    if from_body is not None:
        return from_body
    if inline:
        return GivenParams(positional=inline)
    known = {p.name.casefold() for r in overloads for p in r.params if p.name}
    named = {k: v for k, v in query.items() if k.casefold() in known}
    return GivenParams(named=named) if named else GivenParams()


def _param_named(routine: Routine, key: str) -> RoutineParam | None:
    """The parameter called `key`: exact case first, then case-insensitive."""
    for p in routine.params:
        if p.name == key:
            return p
    folded = key.casefold()
    return next((p for p in routine.params if p.name and p.name.casefold() == folded), None)


def _by_position(routine: Routine, values: tuple[Any, ...]) -> dict[int, Any] | None:
    """Positional values by parameter position, or None when there are too many.

    Values fill the input parameters in order; a VARIADIC parameter takes the remaining values
    as its array (or one value that already is a list). A procedure's list may instead hold a
    placeholder for each OUT parameter (DF clients send them), whose value is then ignored.
    """
    inputs = routine.inputs
    if inputs and inputs[-1].mode == "VARIADIC" and len(values) >= len(inputs):
        head, rest = values[: len(inputs) - 1], values[len(inputs) - 1 :]
        tail = rest[0] if len(rest) == 1 and isinstance(rest[0], list) else list(rest)
        return {p.position: v for p, v in zip(inputs, (*head, tail), strict=True)}
    if len(values) <= len(inputs):
        slots = inputs[: len(values)]
    elif routine.kind == "procedure" and len(values) <= len(routine.params):
        slots = routine.params[: len(values)]
    else:
        return None
    return {p.position: v for p, v in zip(slots, values, strict=True)}


def _covers(routine: Routine, given: GivenParams) -> bool:
    if given.positional is not None:
        return _by_position(routine, given.positional) is not None
    return all(_param_named(routine, k) is not None for k in given.named or {})


def _satisfied(routine: Routine, given: GivenParams) -> bool:
    """Every input parameter without a default gets a value."""
    if given.positional is not None:
        filled = set(_by_position(routine, given.positional) or ())
    else:
        filled = set()
        for key, value in (given.named or {}).items():
            param = _param_named(routine, key)
            if param is not None and value is not MISSING:
                filled.add(param.position)
    return all(p.has_default or p.position in filled for p in routine.inputs)


def choose_overload(overloads: tuple[Routine, ...], given: GivenParams) -> Routine:
    """The one overload the given names (or value count) select; 400 naming what is wrong."""
    first = overloads[0]
    kind = first.kind.capitalize()
    candidates = [r for r in overloads if _covers(r, given)]
    if not candidates:
        if len(overloads) > 1:
            raise _ambiguous(first, overloads, "takes these parameters")
        if given.positional is not None:
            raise BadRequest(
                f"{kind} '{first.name}' takes {len(first.inputs)} parameter(s); "
                f"{len(given.positional)} given.",
                context={"params": [p.name for p in first.inputs]},
            )
        unknown = next(k for k in given.named or {} if _param_named(first, k) is None)
        raise BadRequest(
            f"Parameter '{unknown}' is not a parameter of {first.kind} '{first.name}'.",
            context={"params": [p.name for p in first.params if p.name]},
        )
    if len(candidates) == 1:
        return candidates[0]
    satisfied = [r for r in candidates if _satisfied(r, given)]
    if len(satisfied) == 1:
        return satisfied[0]
    raise _ambiguous(first, tuple(candidates), "is picked by the parameters given")


def _ambiguous(first: Routine, overloads: tuple[Routine, ...], what: str) -> BadRequest:
    signatures = [r.label for r in overloads]
    return BadRequest(
        f"{first.kind.capitalize()} '{first.name}' is overloaded and no single version {what}; "
        f"name the parameters of one of: {'; '.join(signatures)}.",
        context={"signatures": signatures},
    )


def stand_in_column(
    name: str, position: int, db_type: str, base_type: str, category: str, simple_type: str
) -> Column:
    """A Column for a value that is not a table's (a parameter, a function's result): nullable,
    no default, no key, no size limits."""
    return Column(
        name=name,
        position=position,
        db_type=db_type,
        base_type=base_type,
        category=category,
        nullable=True,
        default=None,
        is_primary_key=False,
        auto_increment=False,
        is_generated=False,
        is_unique=False,
        length=None,
        precision=None,
        scale=None,
        simple_type=simple_type,
    )


def _column(param: RoutineParam) -> Column:
    """A stand-in Column so the shared value coercion (spec §3.11) checks parameters too."""
    return stand_in_column(
        param.name or f"${param.position}",
        param.position,
        param.db_type,
        param.base_type,
        param.category,
        param.simple_type,
    )


def bind_value(param: RoutineParam, value: Any, prefix: str) -> BoundArg:
    """Coerce one value for its parameter; a bad value is a 400 that names the parameter."""
    if value is None or value is MISSING:
        return BoundArg(param, None, "raw" if param.typtype == "p" else "cast")
    if param.mode == "VARIADIC" and not isinstance(value, list):
        if not (isinstance(value, str) and value.lstrip().startswith("{")):
            value = [value]  # one value for a VARIADIC parameter is an array of one
    if isinstance(value, (dict, list)):
        check_nesting(value, f"{prefix}\nParameter '{param.name or param.position}'")
    if param.typtype == "c" and isinstance(value, dict):
        return BoundArg(param, Jsonb(value), "record")
    if param.typtype == "p":  # polymorphic (anyelement...): let PostgreSQL infer the type
        return BoundArg(param, Jsonb(value) if isinstance(value, (dict, list)) else value, "raw")
    try:
        return BoundArg(param, coerce(_column(param), value), "cast")
    except BadRequest as exc:
        message = exc.message.replace("Field '", "Parameter '", 1)
        raise BadRequest(f"{prefix}\n{message}", context={"param": param.name}) from None


def bind_call(routine: Routine, given: GivenParams, prefix: str) -> BoundCall:
    """The arguments to pass: given values, NULL for inputs without a default, OUT as NULL."""
    values: dict[int, Any] = {}
    if given.positional is not None:
        values = _by_position(routine, given.positional) or {}
    else:
        for key, value in (given.named or {}).items():
            param = _param_named(routine, key)
            if param is not None and value is not MISSING:
                values[param.position] = value
    passed = [
        p
        for p in routine.params
        if (p.is_input and (p.position in values or not p.has_default))
        or (routine.kind == "procedure" and p.mode == "OUT")
    ]
    named = all(p.name for p in passed)
    if not named:  # positional notation cannot skip a parameter: pass every one up to the last
        last = max((p.position for p in passed), default=0)
        passed = [
            p
            for p in routine.params
            if p.position <= last and (p.is_input or routine.kind == "procedure")
        ]
    args = tuple(
        bind_value(p, None if p.mode == "OUT" else values.get(p.position), prefix) for p in passed
    )
    return BoundCall(routine, args, named)
