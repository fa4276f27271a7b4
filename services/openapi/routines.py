"""OpenAPI paths of stored routines: one `/_func/{name}` or `/_proc/{name}` per routine, with
its parameters (name, type, IN/OUT) and result shape, so "Try it out" calls it (spec §5.2).

Pure: reads the routine catalog only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from core.verbs import GET, POST
from services.catalog.routines import Routine, RoutineCatalog, RoutineKind, RoutineParam
from services.openapi.types import UniqueNames, base_type_schema, pascal

# DF's simple types of result columns -> JSON Schema
_SIMPLE: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "bigint": {"type": "integer", "format": "int64"},
    "smallint": {"type": "integer"},
    "id": {"type": "integer"},
    "decimal": {"type": "number"},
    "money": {"type": "number"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "timestamp": {"type": "string", "format": "date-time"},
    "timestamp_on_create": {"type": "string", "format": "date-time"},
    "timestamp_on_update": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "json": {},
}
_PAGING = (
    ("limit", "At most this many rows (capped by the service's max_records).", GET),
    ("offset", "Skip this many rows.", GET),
)


def _param_schema(param: RoutineParam) -> dict[str, Any]:
    schema = base_type_schema(param.base_type)
    if param.category == "A" or param.mode == "VARIADIC":
        schema = {"type": "array", "items": schema}
    return {**schema, "description": f"{param.param_type} {param.db_type}"}


def _simple_schema(simple_type: str, db_type: str) -> dict[str, Any]:
    schema = dict(_SIMPLE.get(simple_type, {"type": "string"}))
    if db_type.endswith("[]"):
        schema = {"type": "array", "items": schema}
    return {**schema, "description": db_type}


def _row_schema(routine: Routine) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            c.name: _simple_schema(c.simple_type, c.db_type) for c in routine.return_columns
        },
    }


def result_schema(routine: Routine) -> dict[str, Any]:
    """What a call answers (spec §5.2, docs/compatibility.md for our differences)."""
    if routine.kind == "procedure":
        outputs = routine.outputs
        if not outputs:
            return {"type": "array", "maxItems": 0, "description": "No OUT parameters: `[]`."}
        return {
            "type": "object",
            "description": "Each OUT/INOUT parameter as a key.",
            "properties": {p.name or f"${p.position}": _param_schema(p) for p in outputs},
        }
    if routine.shape == "void":
        return {"type": "null", "description": "A void function answers null."}
    if routine.returns_set:
        if routine.shape == "scalar":
            item = {
                "type": "object",
                "properties": {
                    routine.value_column: _simple_schema(
                        routine.return_simple_type, routine.return_db_type
                    )
                },
            }
        else:
            item = _row_schema(routine)
        return {"type": "array", "items": item, "description": "The rows of the set."}
    if routine.shape in ("row", "record"):
        return {**_row_schema(routine), "description": "One row (null when none)."}
    return _simple_schema(routine.return_simple_type, routine.return_db_type)


def _inputs(overloads: tuple[Routine, ...]) -> list[RoutineParam]:
    """The IN/INOUT parameters over every overload, by name, first spelling wins."""
    seen: dict[str, RoutineParam] = {}
    for routine in overloads:
        for param in routine.inputs:
            if param.name and param.name.casefold() not in seen:
                seen[param.name.casefold()] = param
    return list(seen.values())


def _required(overloads: tuple[Routine, ...], name: str) -> bool:
    """Needed by every overload (no default anywhere)."""
    for routine in overloads:
        param = next((p for p in routine.inputs if p.name.casefold() == name.casefold()), None)
        if param is None or param.has_default:
            return False
    return True


def _description(kind: RoutineKind, overloads: tuple[Routine, ...]) -> str:
    first = overloads[0]
    lines = [first.description or f"Call the stored {kind} {first.name}."]
    if len(overloads) > 1:
        signatures = "; ".join(f"`{r.label}`" for r in overloads)
        lines.append(f"Overloads (chosen by the parameter names given): {signatures}.")
    return "\n\n".join(lines)


def _operation(
    verb: str,
    kind: RoutineKind,
    op_id: str,
    overloads: tuple[Routine, ...],
    responses: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    first = overloads[0]
    inputs = _inputs(overloads)
    result = result_schema(first)
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": f"Call {kind} {first.name}" + (" (read by GET)" if verb == "get" else ""),
        "description": _description(kind, overloads),
        "tags": ["_proc" if kind == "procedure" else "_func"],
        "responses": responses(result),
    }
    paged = kind == "function" and first.returns_set
    if verb == "get":
        params = [
            {
                "name": p.name,
                "in": "query",
                "required": _required(overloads, p.name),
                "schema": _param_schema(p),
            }
            for p in inputs
        ]
        if paged:
            params += [
                {"name": name, "in": "query", "required": False, "description": text,
                 "schema": {"type": "integer", "minimum": 0}}
                for name, text, _ in _PAGING
            ]  # fmt: skip
        if params:
            operation["parameters"] = params
        return operation
    properties: dict[str, Any] = {
        "params": {
            "type": "object",
            "description": "The IN/INOUT parameters by name (a positional array works too).",
            "properties": {p.name: _param_schema(p) for p in inputs},
            "required": [p.name for p in inputs if _required(overloads, p.name)],
        },
        "wrapper": {"type": "string", "description": "Wrap the rows under this key."},
        "returns": {
            "type": "string",
            "enum": ["integer", "number", "string", "boolean"],
            "description": "Return the first value as this type.",
        },
    }
    if paged:
        properties.update(
            {
                name: {"type": "integer", "minimum": 0, "description": text}
                for name, text, _ in _PAGING
            }
        )
    operation["requestBody"] = {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }
    return operation


def routine_paths(
    catalog: RoutineCatalog,
    kind: RoutineKind,
    service: str,
    mask: Callable[[str], int],
    op_names: UniqueNames,
    responses: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """`/_func/{name}` (or `/_proc/{name}`) for every routine the caller may call, with GET
    and/or POST as its role allows; `responses` wraps a result schema in the 200 and errors."""
    resource = "_proc" if kind == "procedure" else "_func"
    paths: dict[str, Any] = {}
    for name in catalog.names(kind):
        verbs = mask(f"{resource}/{name}")
        if not verbs & (GET | POST):
            continue
        overloads = catalog.routines[kind][name]
        stem = op_names(
            f"{pascal(service)}{pascal(name)}{'Proc' if kind == 'procedure' else 'Func'}"
        )
        item: dict[str, Any] = {}
        if verbs & GET:
            item["get"] = _operation("get", kind, f"call{stem}", overloads, responses)
        if verbs & POST:
            item["post"] = _operation("post", kind, f"call{stem}Post", overloads, responses)
        paths[f"/{resource}/{quote(name, safe='')}"] = item
    return paths
