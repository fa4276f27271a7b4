"""The OpenAPI 3.1 document of one service, generated from its schema cache (spec §12.3).

Pure: config + schema cache in, a JSON-ready dict out; never touches the database or HTTP.
Column and record schemas live in services/openapi/types.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from core.verbs import ALL_VERBS, GET, POST, VERB_BITS
from services.catalog.routines import RoutineCatalog, RoutineKind
from services.catalog.schema_cache import SchemaCache, Table
from services.config import ServiceConfig
from services.openapi.routines import routine_paths
from services.openapi.types import UniqueNames, key_schema, pascal, record_schema

# the caller's verbs (core.verbs bits) on one component of the service, e.g. "_table/todo"
Mask = Callable[[str], int]

_ERRORS = {
    "400": ("BadRequest", "The request is invalid; the message names the parameter."),
    "401": ("Unauthorized", "No valid API key or session token."),
    "403": ("Forbidden", "The caller's role does not allow this."),
    "404": ("NotFound", "No such service, table or record."),
    "500": ("InternalError", "An internal error; it has been logged."),
    "503": ("ServiceUnavailable", "The database is unavailable."),
    "504": ("GatewayTimeout", "The statement timed out."),
}
_SECURITY = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-DreamFactory-Api-Key"},
    "SessionToken": {"type": "apiKey", "in": "header", "name": "X-DreamFactory-Session-Token"},
    "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_INT0: dict[str, Any] = {"type": "integer", "minimum": 0}
_PARAMETERS = {
    "filter": _param("filter", "SQL-like filter, e.g. `(name like 'A%') and (id > 3)`.", _STR),
    "fields": _param("fields", "Comma-separated fields to return, or `*`.", _STR),
    "order": _param("order", "Sort order, e.g. `name desc,id`.", _STR),
    "limit": _param("limit", "At most this many records.", _INT0),
    "offset": _param("offset", "Skip this many records.", _INT0),
    "include_count": _param("include_count", "Add the total count to `meta.count`.", _BOOL),
    "count_only": _param("count_only", "Answer the count only, as a bare number.", _BOOL),
    "ids": _param("ids", "Comma-separated key values of the records.", _STR),
    "id_field": _param("id_field", "Comma-separated identifying field(s).", _STR),
    "related": _param("related", "Comma-separated relationships to embed, or `*`.", _STR),
    "continue": _param("continue", "In a batch, go on after a failed record.", _BOOL),
    "rollback": _param("rollback", "In a batch, undo everything if one record fails.", _BOOL),
    "refresh": _param("refresh", "Re-read the database schema first.", _BOOL),
}
_READ_PARAMS: tuple[str, ...] = (
    *("filter", "fields", "order", "limit", "offset", "include_count", "count_only"),
    *("ids", "id_field", "related"),
)
_WRITE_PARAMS = ("fields", "related", "id_field", "continue", "rollback")
_FILTER_WRITE_PARAMS = ("filter", "ids", *_WRITE_PARAMS)


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _params(names: tuple[str, ...]) -> list[dict[str, str]]:
    return [_ref("parameters", n) for n in names]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    op_id: str, summary: str, tag: str, ok: dict[str, Any], params: tuple[str, ...] = ()
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    responses.update({status: _ref("responses", name) for status, (name, _) in _ERRORS.items()})
    operation: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    }
    if params:
        operation["parameters"] = _params(params)
    return operation


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "resource": {"type": "array", "items": item},
            "meta": _ref("schemas", "Meta"),
        },
        "required": ["resource"],
    }


def _shared_components(service: str) -> dict[str, Any]:
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status_code"],
                "properties": {
                    "code": {"type": ["integer", "string"]},
                    "context": {},
                    "message": {"type": "string"},
                    "status_code": {"type": "integer"},
                },
            }
        },
    }
    meta = {
        "type": "object",
        "description": "Paging and count information (`include_count`, truncation).",
        "properties": {"count": {"type": "integer"}, "next": {"type": "integer"}},
        "additionalProperties": True,
    }
    named = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "additionalProperties": True,
    }
    return {
        "schemas": {"Error": error, "Meta": meta, "NamedResources": _list_of(named)},
        "responses": {
            name: _json(_ref("schemas", "Error"), text) for name, text in _ERRORS.values()
        },
        "parameters": _PARAMETERS,
        "securitySchemes": _SECURITY,
    }


def _table_paths(
    table: Table, service: str, schema_name: str, op_name: str, mask: Mask
) -> dict[str, dict[str, Any]]:
    """`/_table/{name}` and, for tables with a primary key, `/_table/{name}/{id}`, with the
    verbs both the database and the caller's role allow."""
    verbs = table.verbs & mask(f"_table/{table.name}")
    record_verbs = table.verbs & mask(f"_table/{table.name}/{{id}}")
    record = _ref("schemas", schema_name)
    many = _list_of(record)
    body = {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [many, {"type": "array", "items": record}]}}
        },
    }
    tag = table.name
    stem = f"{pascal(service)}{op_name}"
    list_ok = _json({"anyOf": [many, {"type": "integer"}]}, "The records (or the count).")
    path = f"/_table/{quote(table.name, safe='')}"
    item: dict[str, Any] = {}
    if verbs & GET:
        item["get"] = _operation(
            f"get{stem}", f"Read records of {table.name}", tag, list_ok, _READ_PARAMS
        )
    paths = {path: item} if verbs else {}
    written = _json(many, "The records written (their keys, or `fields`).")
    for verb, prefix, text, params in (
        ("post", "create", "Create records in", _WRITE_PARAMS),
        ("put", "replace", "Replace records of", _FILTER_WRITE_PARAMS),
        ("patch", "update", "Update records of", _FILTER_WRITE_PARAMS),
        ("delete", "delete", "Delete records of", _FILTER_WRITE_PARAMS),
    ):
        if not verbs & VERB_BITS[verb.upper()]:
            continue  # the database refuses it (a view that cannot be updated), or the role
        op = _operation(f"{prefix}{stem}", f"{text} {table.name}", tag, written, params)
        if verb != "delete":
            op["requestBody"] = body
        item[verb] = op
    if not table.primary_key or not record_verbs:
        return paths
    one = _json(record, "One record.")
    record_item: dict[str, Any] = {
        "parameters": [
            {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": key_schema(table),
                "description": "The record's primary key value.",
            }
        ]
    }
    for verb, prefix, text in (
        ("get", "get", "Read one record of"),
        ("put", "replace", "Replace one record of"),
        ("patch", "update", "Update one record of"),
        ("delete", "delete", "Delete one record of"),
    ):
        if not record_verbs & VERB_BITS[verb.upper()]:
            continue
        by_id: tuple[str, ...] = (
            ("fields", "related", "id_field") if verb != "delete" else ("fields",)
        )
        op = _operation(f"{prefix}{stem}ById", f"{text} {table.name}", tag, one, by_id)
        if verb in ("put", "patch"):
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": record}},
            }
        record_item[verb] = op
    paths[f"{path}/{{id}}"] = record_item
    return paths


def _resource_paths(config: ServiceConfig, tables: list[str], mask: Mask) -> dict[str, Any]:
    """The table list, `_schema`, the `_func`/`_proc` lists and (when allowed) `_sql`: each
    only where the caller's role may call it."""
    stem = pascal(config.name)
    listed = _json(_ref("schemas", "NamedResources"), "The names.")
    described = _json({"type": "object", "additionalProperties": True}, "The description.")
    paths: dict[str, Any] = {}
    if mask("_table") & GET:
        paths["/_table"] = {
            "get": _operation(
                f"get{stem}Tables", "List tables and views", "_table", listed, ("refresh",)
            )
        }
    if mask("_schema") & GET:
        paths["/_schema"] = {
            "get": _operation(f"get{stem}Schema", "List tables", "_schema", listed, ("refresh",))
        }
    described_tables = [t for t in tables if mask(f"_schema/{t}") & GET]
    if described_tables:
        paths["/_schema/{table_name}"] = {
            "parameters": [
                {
                    "name": "table_name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": described_tables},
                }
            ],
            "get": _operation(
                f"describe{stem}Table", "Describe a table", "_schema", described, ("refresh",)
            ),
        }
    if mask("_func") & GET:
        paths["/_func"] = {
            "get": _operation(f"get{stem}Functions", "List functions", "_func", listed)
        }
    if mask("_proc") & GET:
        paths["/_proc"] = {
            "get": _operation(f"get{stem}Procedures", "List procedures", "_proc", listed)
        }
    sql_verbs = mask("_sql") if config.allow_sql else 0
    if sql_verbs & (GET | POST):
        paths["/_sql"] = _sql_item(stem, sql_verbs)
    return paths


def _sql_item(stem: str, verbs: int) -> dict[str, Any]:
    """`/_sql`: GET runs a statement read-only, POST may write (docs/compatibility.md)."""
    rows = _json(_list_of({}), "The rows.")
    item: dict[str, Any] = {}
    if verbs & GET:
        op = _operation(f"read{stem}Sql", "Run one read-only SQL statement", "_sql", rows)
        op["parameters"] = [
            {"name": "query", "in": "query", "required": True, "schema": {"type": "string"},
             "description": "One statement, with $1, $2, ... placeholders."},
            {"name": "params", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The values as a JSON array, e.g. `[1, \"a\"]`."},
        ]  # fmt: skip
        item["get"] = op
    if verbs & POST:
        body = {
            "type": "object",
            "required": ["query"],
            "properties": {
                "query": {"type": "string", "description": "One statement ($1, $2, ...)."},
                "params": {"type": "array", "description": "The values for $1, $2, ..."},
            },
        }
        op = _operation(f"run{stem}Sql", "Run one SQL statement", "_sql", rows)
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
        item["post"] = op
    return item


def _routine_responses(result: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": _json(result, "The result.")}
    responses.update({status: _ref("responses", name) for status, (name, _) in _ERRORS.items()})
    return responses


def _everything(component: str) -> int:
    return ALL_VERBS


def build_document(
    config: ServiceConfig,
    schema_cache: SchemaCache,
    base_url: str = "",
    *,
    routines: RoutineCatalog | None = None,
    mask: Mask | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `config`'s service over its current schema cache (and
    routine catalog), holding only what `mask` (the caller's verbs per component) allows;
    no mask: everything, as an admin sees it."""
    mask = mask or _everything
    components = _shared_components(config.name)
    schema_names = UniqueNames(set(components["schemas"]))
    op_names = UniqueNames({"Tables", "Schema", "Functions", "Procedures", "Sql"})
    tables = []
    table_paths: dict[str, Any] = {}
    for table in schema_cache.sorted_tables():
        schema_name = schema_names(f"{pascal(table.name)}Record")
        found = _table_paths(table, config.name, schema_name, op_names(pascal(table.name)), mask)
        if not found:
            continue  # the role reaches no verb of it
        tables.append(table)
        components["schemas"][schema_name] = record_schema(table)
        table_paths.update(found)
    names = [t.name for t in schema_cache.sorted_tables()]
    paths = _resource_paths(config, names, mask)
    paths.update(table_paths)
    if routines is not None:
        kinds: tuple[RoutineKind, ...] = ("function", "procedure")
        for kind in kinds:
            paths.update(
                routine_paths(routines, kind, config.name, mask, op_names, _routine_responses)
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": config.label or config.name,
            "description": config.description or f"The data API of service '{config.name}'.",
            "version": "2.0",
        },
        "servers": [{"url": f"{base_url.rstrip('/')}/api/v2/{config.name}"}],
        "security": [{name: []} for name in _SECURITY],
        "tags": [{"name": t.name} for t in tables],
        "paths": paths,
        "components": components,
    }
