"""Parse stage for `_schema`, `_func`/`_proc`, `_sql` and `_spec`: path, query and body -> the
resource's Plan (services/plan/types.py). Options are read here, once, into typed fields.

`segments` start with the resource name, as the pipeline passes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from core.errors import BadRequest, NotFound
from core.flags import as_bool
from services.catalog.routines import RoutineKind
from services.plan.table_spec import name_list, records
from services.plan.types import (
    NO_BODY,
    ResultOptions,
    RoutineCall,
    RoutineList,
    SchemaRead,
    SchemaWrite,
    SpecRead,
    SqlQuery,
)

MAX_QUERY_LENGTH = 100_000


def _option(query: Mapping[str, str], body: Any, name: str) -> Any:
    """A query option, else the body's top-level key of that name."""
    if name in query:
        return query[name]
    if isinstance(body, dict):
        return body.get(name)
    return None


def _flag(query: Mapping[str, str], body: Any, name: str) -> bool:
    value = _option(query, body, name)
    return value is not None and as_bool(value)


# --- _schema -------------------------------------------------------------------------------


def parse_schema(
    verb: str, segments: tuple[str, ...], query: Mapping[str, str], body: Any
) -> SchemaRead | SchemaWrite:
    """/_schema[/{table}[/_field|/_related[/{name}]]] (spec §4)."""
    path = segments[1:]
    if len(path) > 3 or any(not s for s in path):
        raise BadRequest("Invalid schema path in request.")
    if verb == "GET":
        return SchemaRead(
            path=path,
            names=tuple(name_list(_option(query, body, "ids"))),
            fields=tuple(name_list(_option(query, body, "fields"))),
            as_list=_flag(query, body, "as_list"),
            refresh=_flag(query, body, "refresh"),
        )
    items = tuple(records(body) or ())
    names = name_list(_option(query, body, "ids")) or name_list(list(items))
    return SchemaWrite(
        verb=verb,
        path=path,
        items=items,
        body=body,
        names=tuple(dict.fromkeys(names)),  # each once, in the order given
        describe=bool(_option(query, body, "fields")),
        as_list=_flag(query, body, "as_list"),
        rollback=_flag(query, body, "rollback"),
        check_exist=_flag(query, body, "check_exist"),
    )


# --- _func, _proc --------------------------------------------------------------------------

# DF simple type names accepted by `returns` and `schema`, by the JSON kind they produce
_KINDS = {
    **dict.fromkeys(("integer", "int", "smallint", "bigint", "id", "bigid"), "integer"),
    **dict.fromkeys(("string", "text"), "string"),
    **dict.fromkeys(("boolean", "bool"), "boolean"),
    **dict.fromkeys(("number", "float", "double", "decimal", "numeric", "money"), "number"),
}


def _kind(value: Any, option: str) -> str:
    kind = _KINDS.get(str(value).strip().lower())
    if kind is None:
        raise BadRequest(
            f"Invalid {option} type '{value}': use integer, string, boolean or number.",
            context={"param": option},
        )
    return kind


def read_options(query: Mapping[str, str], body: Any) -> ResultOptions:
    """`wrapper` and `returns` from the query or the body; `schema` from the body only."""
    body_options = body if isinstance(body, dict) else {}
    wrapper = query.get("wrapper") or body_options.get("wrapper") or None
    returns = query.get("returns") or body_options.get("returns") or None
    schema = body_options.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise BadRequest('schema must be an object, e.g. {"total": "integer"}.')
    return ResultOptions(
        wrapper=str(wrapper) if wrapper is not None else None,
        returns=_kind(returns, "returns") if returns is not None else None,
        schema=tuple((str(k), _kind(v, "schema")) for k, v in (schema or {}).items()),
        limit=_row_count(query, body_options, ("limit", "top")),
        offset=_row_count(query, body_options, ("offset", "skip")) or 0,
    )


def _row_count(
    query: Mapping[str, str], body: dict[str, Any], names: tuple[str, ...]
) -> int | None:
    """`limit`/`offset` of a set-returning function's rows, cast like `_table`'s (junk is "not
    given"); a negative offset is a 400."""
    value = next((src[n] for src in (query, body) for n in names if n in src), None)
    try:
        number = int(str(value).strip()) if value is not None and value != "" else None
    except ValueError:
        return None
    if number is not None and number < 0 and names[0] == "offset":
        raise BadRequest(
            f"offset must be 0 or more (the rows to skip), not {number}.",
            context={"param": "offset"},
        )
    return number


def _names_from(value: Any) -> tuple[str, ...] | None:
    """`ids=a,b`, or a body list of names (or of {"name": ...} objects)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list):
        items = [v.get("name") if isinstance(v, dict) else v for v in value]
    else:
        items = [value]
    names = tuple(str(v).strip() for v in items if v is not None and str(v).strip())
    return names or None


def _requested_ids(query: Mapping[str, str], body: Any) -> tuple[str, ...] | None:
    if "ids" in query:
        return _names_from(query["ids"])
    if isinstance(body, dict):
        body = body.get("ids", body.get("resource"))
    return _names_from(body) if isinstance(body, (list, str)) else None


def parse_routines(
    verb: str, segments: tuple[str, ...], query: Mapping[str, str], body: Any
) -> RoutineList | RoutineCall:
    """GET /_func, /_proc lists or describes; GET or POST /{name} calls one (spec §5)."""
    resource = segments[0]
    kind: RoutineKind = "procedure" if resource == "_proc" else "function"
    refresh = _flag(query, body, "refresh")
    if len(segments) == 1:
        if verb != "GET":
            raise BadRequest(
                f"{verb} is not supported on /{resource}; GET lists the "
                f"{kind}s, GET or POST /{resource}/{{name}} calls one."
            )
        fields_value = query.get("fields")
        if fields_value is None and isinstance(body, dict):
            fields_value = body.get("fields")
        fields = tuple(f.strip() for f in str(fields_value or "name").split(",") if f.strip())
        return RoutineList(
            kind=kind,
            names=_requested_ids(query, body),
            fields=fields,
            as_list=_flag(query, body, "as_list"),
            refresh=refresh,
        )
    if verb not in ("GET", "POST"):
        raise BadRequest(
            f"{verb} is not supported on /{resource}/{{name}}; call a {kind} with GET or POST."
        )
    return RoutineCall(
        kind=kind,
        name="/".join(segments[1:]),
        body_params=body.get("params") if isinstance(body, dict) else None,
        query=tuple(query.items()),
        options=read_options(query, body),
        refresh=refresh,
    )


# --- _sql ----------------------------------------------------------------------------------


def parse_sql(
    verb: str, segments: tuple[str, ...], query: Mapping[str, str], body: Any
) -> SqlQuery:
    """POST /_sql {"query": "...", "params": [...]} runs a statement that may write; GET (the
    query string `query` and `params` as a JSON array, or a body tunnelled through POST with
    `X-HTTP-Method: GET`) runs it in a READ ONLY transaction."""
    if verb not in ("GET", "POST"):
        raise BadRequest(
            f"{verb} is not supported on _sql: GET runs a read-only statement, POST one that"
            ' may write, with {"query": "...", "params": [...]}.'
        )
    if len(segments) > 1:
        raise BadRequest("_sql takes no path after it; send the statement in the body.")
    source: Any = body
    if verb == "GET" and "query" in query:
        source = {"query": query["query"], "params": _json_params(query.get("params"))}
    if source is NO_BODY or not isinstance(source, dict):
        if verb == "GET":
            raise BadRequest(
                "GET /_sql needs a 'query' parameter (and 'params' as a JSON array), or a body"
                ' {"query": "SELECT ...", "params": []} sent with POST and X-HTTP-Method: GET.'
            )
        raise BadRequest('The body must be a JSON object: {"query": "SELECT ...", "params": []}.')
    text = source.get("query")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("The body needs a non-empty 'query' string.")
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The query is longer than {MAX_QUERY_LENGTH} characters.")
    params = source.get("params", [])
    if params is None:
        params = []
    if not isinstance(params, list):
        raise BadRequest("'params' must be an array of values for $1, $2, ... in order.")
    return SqlQuery(query=text, params=tuple(params), read_only=verb == "GET")


def _json_params(text: str | None) -> Any:
    """`params` of a GET: a JSON array in the query string."""
    if text is None or text == "":
        return []
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadRequest(
            "'params' must be a JSON array of values for $1, $2, ..., e.g. params=[1,\"a\"]."
        ) from None


# --- _spec ---------------------------------------------------------------------------------


def parse_spec(
    verb: str, segments: tuple[str, ...], query: Mapping[str, str], body: Any
) -> SpecRead:
    """GET /_spec: the service's OpenAPI document; `refresh=true` rebuilds it."""
    if verb != "GET":
        raise BadRequest(f"The {verb} verb is not supported on _spec.")
    if len(segments) > 1:
        raise NotFound("Resource not found: the document is at /_spec.")
    return SpecRead(refresh=as_bool(query.get("refresh", "false")))
