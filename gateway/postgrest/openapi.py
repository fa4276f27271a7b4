"""`GET /rest/<service>/`: an OpenAPI 3.1 document of the PostgREST dialect (PostgREST serves
Swagger 2.0 there): the tables, views and functions of the schema the request's profile
chooses that the caller's role reaches, each with the dialect's parameters (`select`,
`order`, `limit`, `offset`, one filter per column, `Range`, `Prefer`, the profile headers)
and the verbs the role has on it (intersected with what the table itself allows).

Schemas of records and routine results come from services/openapi (the `/api/v2` document's
building blocks); only the paths and parameters are the dialect's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson

from core.environ_request import RequestLike
from core.errors import Forbidden, NotAuthenticated
from core.request import ApiRequest
from core.responses import ApiResponse, label_for
from core.verbs import DELETE, GET, PATCH, POST
from gateway.pipeline import admit
from gateway.postgrest.profiles import PROFILE_HEADER, check_profile, requested_profile
from gateway.postgrest.request import api_request
from rbac.policy import RoleScope, authenticate
from services.catalog.routines import Routine, RoutineCatalog, RoutineKind
from services.catalog.schema_cache import SchemaCache, Table
from services.openapi.routines import result_schema
from services.openapi.types import UniqueNames, base_type_schema, pascal, record_schema
from services.registry import LiveService, registry

_KINDS: tuple[tuple[RoutineKind, str], ...] = (("function", "_func"), ("procedure", "_proc"))
_OPS = "eq, neq, gt, gte, lt, lte, like, ilike, in, is, ... (each with `not.`)"


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


_INT0 = {"type": "integer", "minimum": 0}
_PARAMETERS = {
    "select": _query("select", "Columns to answer, with `alias:col` and `col::type` casts."),
    "order": _query("order", "Sort, e.g. `name.desc.nullslast,id`."),
    "limit": _query("limit", "At most this many rows.", _INT0),
    "offset": _query("offset", "Skip this many rows.", _INT0),
    "range": _header("Range", "Rows by position, e.g. `0-9`."),
    "rangeUnit": _header("Range-Unit", "Always `items`."),
    "prefer": _header(
        "Prefer",
        "`count=exact|planned|estimated`; on writes `return=minimal|representation`, "
        "`resolution=merge-duplicates|ignore-duplicates`, `missing=default`, `tx=rollback`; "
        "on calls `params=single-object`.",
    ),
    "acceptProfile": _header("Accept-Profile", "The schema to read (GET, HEAD)."),
    "contentProfile": _header("Content-Profile", "The schema to write or call in."),
}
_ERROR = {
    "type": "object",
    "description": "PostgREST's error body.",
    "properties": {
        "code": {"type": "string", "description": "PGRSTnnn, or the SQLSTATE."},
        "message": {"type": "string"},
        "details": {"type": ["string", "null"]},
        "hint": {"type": ["string", "null"]},
    },
}
_ERRORS = {
    status: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for status, text in (
        ("400", "Malformed select, filter or value (PGRST100, 22P02, 42703)."),
        ("401", "No valid API key or session (PGRST301)."),
        ("403", "The caller's role does not allow this (42501)."),
        ("404", "No such table or function (PGRST205, PGRST202)."),
        ("406", "Not one row for a single object (PGRST116), or an unexposed schema (PGRST106)."),
    )
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(
    op_id: str, summary: str, params: list[dict[str, Any]], ok: dict[str, Any], tag: str
) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "tags": [tag],
        "parameters": params,
        "responses": {**ok, **_ERRORS},
    }


def _table_item(table: Table, mask: int, schema_name: str) -> dict[str, Any]:
    name = table.db_name
    ref = _ref("schemas", schema_name)
    rows = {"type": "array", "items": ref}
    filters = [
        _query(c.name, f"Filter on {c.name} ({c.db_type}): `op.value`, ops {_OPS}.")
        for c in table.columns
    ]
    reads = [
        _ref("parameters", p)
        for p in ("select", "order", "limit", "offset", "range", "rangeUnit", "prefer")
    ]
    allowed = mask & table.verbs
    item: dict[str, Any] = {"summary": f"The {'view' if table.is_view else 'table'} {name}."}
    tag = name
    if allowed & GET:
        item["get"] = _operation(
            f"get{pascal(name)}",
            f"Read rows of {name}.",
            [*reads, _ref("parameters", "acceptProfile"), *filters],
            {"200": _json(rows, "The rows."), "206": _json(rows, "Part of the rows.")},
            tag,
        )
    writes = [_ref("parameters", "prefer"), _ref("parameters", "contentProfile")]
    body = {"required": True, "content": {"application/json": {"schema": {"oneOf": [ref, rows]}}}}
    if allowed & POST:
        item["post"] = {
            **_operation(
                f"post{pascal(name)}",
                f"Insert (or upsert) rows into {name}.",
                [
                    *writes,
                    _query("columns", "Columns to take from the body."),
                    _query("on_conflict", "Unique columns of an upsert."),
                ],
                {"201": _json(rows, "Created (the rows with return=representation).")},
                tag,
            ),
            "requestBody": body,
        }
    if allowed & PATCH:
        item["patch"] = {
            **_operation(
                f"patch{pascal(name)}",
                f"Update the rows of {name} the filters match.",
                [*writes, *filters],
                {"200": _json(rows, "Updated."), "204": {"description": "Updated."}},
                tag,
            ),
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
        }
    if allowed & DELETE:
        item["delete"] = _operation(
            f"delete{pascal(name)}",
            f"Delete the rows of {name} the filters match.",
            [*writes, *filters],
            {"200": _json(rows, "Deleted."), "204": {"description": "Deleted."}},
            tag,
        )
    return item


def _routine_item(overloads: tuple[Routine, ...], mask: int) -> dict[str, Any]:
    first = overloads[0]
    inputs: dict[str, Any] = {}
    required: set[str] = set()
    for routine in overloads:
        for p in routine.inputs:
            if p.name and p.name not in inputs:
                schema = base_type_schema(p.base_type)
                if p.category == "A" or p.mode == "VARIADIC":
                    schema = {"type": "array", "items": schema}
                inputs[p.name] = {**schema, "description": f"{p.mode} {p.db_type}"}
                if not p.has_default and len(overloads) == 1:
                    required.add(p.name)
    result = result_schema(first)
    name, tag = first.db_name, "(rpc) " + first.db_name
    summary = first.description or f"Call the {first.kind} {name}."
    shaping = [_ref("parameters", p) for p in ("select", "order", "limit", "offset", "prefer")]
    rows = first.returns_set
    ok = {"200": _json(result, "The result.")}
    if first.shape == "void" or (first.kind == "procedure" and not first.outputs):
        ok = {"204": {"description": "Done; nothing to answer."}}
    item: dict[str, Any] = {"summary": summary}
    post_params = [_ref("parameters", "contentProfile"), *(shaping if rows else [])]
    if mask & POST:
        item["post"] = {
            **_operation(f"rpc{pascal(name)}", summary, post_params, ok, tag),
            "requestBody": {
                "required": bool(required),
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": inputs,
                            "required": sorted(required),
                        }
                    }
                },
            },
        }
    if mask & GET and first.kind == "function" and any(r.volatility != "v" for r in overloads):
        args = [
            {
                **_query(n, s["description"], {k: v for k, v in s.items() if k != "description"}),
                "required": n in required,
            }
            for n, s in inputs.items()
        ]
        item["get"] = _operation(
            f"rpc{pascal(name)}Get",
            summary + " (read only)",
            [_ref("parameters", "acceptProfile"), *args, *(shaping if rows else [])],
            ok,
            tag,
        )
    return item


def build_document(
    service: str,
    label: str,
    schema: str,
    cache: SchemaCache,
    routines: RoutineCatalog,
    mask_of: Callable[[str], int],
) -> dict[str, Any]:
    """The document of one service and schema for the caller's role."""
    names = UniqueNames({"Error"})
    paths: dict[str, Any] = {
        "/": {
            "get": _operation(
                "openapi",
                "This document.",
                [_ref("parameters", "acceptProfile")],
                {"200": {"description": "The OpenAPI 3.1 document."}},
                "(introspection)",
            )
        }
    }
    schemas: dict[str, Any] = {"Error": _ERROR}
    for table in cache.sorted_tables():
        mask = mask_of(f"_table/{table.name}")
        if table.schema != schema or not mask & table.verbs:
            continue
        schema_name = names(pascal(table.db_name))
        schemas[schema_name] = record_schema(table)
        paths["/" + quote(table.db_name, safe="")] = _table_item(table, mask, schema_name)
    for kind, resource in _KINDS:
        for api_name, overloads in sorted(routines.routines[kind].items()):
            mask = mask_of(f"{resource}/{api_name}")
            if overloads[0].schema != schema or not mask:
                continue
            path = "/rpc/" + quote(overloads[0].db_name, safe="")
            paths.setdefault(path, _routine_item(overloads, mask))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{label} (PostgREST dialect, schema {schema})",
            "version": "1",
            "description": (
                f"The PostgREST-compatible API of service '{service}'. Rows are filtered with "
                "`column=op.value`; the `Accept-Profile`/`Content-Profile` headers choose the "
                "schema. Lists what the caller's role reaches."
            ),
        },
        "servers": [{"url": f"/rest/{service}"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": _PARAMETERS,
            "securitySchemes": {
                "apikey": {"type": "apiKey", "in": "header", "name": "apikey"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"apikey": []}, {"bearer": []}],
    }


def _components(live: LiveService) -> list[str]:
    out = [f"_table/{t.name}" for t in live.schema().sorted_tables()]
    catalog = live.routines()
    out += [f"_func/{n}" for n in catalog.names("function")]
    out += [f"_proc/{n}" for n in catalog.names("procedure")]
    return out


def _reach(req: ApiRequest) -> tuple[LiveService, Callable[[str], int]]:
    """The service and the caller's verbs on each of its components: the document is for
    anyone whose role reaches some table or routine of it (or the service's root)."""
    try:
        _, live, grant = admit(req)
        return live, grant.mask
    except (Forbidden, NotAuthenticated) as refused:
        principal = authenticate(req.credentials)
        found = registry.find(req.service)
        if principal.role is None or found is None:
            raise refused from None
        scope = RoleScope(principal, found.config.id, found.config.name)
        if not any(scope.mask(c) for c in _components(found)):
            raise refused from None
        return found, scope.mask


def serve_document(request: RequestLike, service: str) -> ApiResponse:
    """The document for the caller (admitted as for the service's root on `/api/v2`)."""
    req = api_request(request, "GET", service, (), {})
    live, mask_of = _reach(req)
    schema = check_profile(requested_profile(request), live)
    label = live.config.label or label_for(live.config.name)
    document = build_document(
        live.config.name, label, schema, live.schema(), live.routines(), mask_of
    )
    response = ApiResponse(orjson.dumps(document))
    response["Content-Type"] = "application/openapi+json; charset=utf-8"
    response[PROFILE_HEADER] = schema
    return response
