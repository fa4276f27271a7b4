"""`/_schema`: describe, create, alter and drop tables and fields (spec §4; issue #5).

Routing only: descriptions come from services/catalog/describe.py, write plans from
services/ddl/changes.py, and services/ddl/apply.py runs them in transactions.
Every change refreshes the schema cache before the response is sent.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest, Forbidden, GatewayError, NotFound
from core.flags import as_bool
from core.verbs import VERB_BITS
from services.catalog.describe import (
    TableExtras,
    extras_for,
    field_description,
    load_extras,
    relation_description,
    table_description,
    table_summary,
)
from services.catalog.schema_cache import Relation, SchemaCache, Table
from services.ddl.apply import apply_tables, run_in_transaction
from services.ddl.changes import drop_fields
from services.ddl.spec import (
    TableSpec,
    name_list,
    parse_field,
    parse_related,
    parse_table,
    records,
)
from services.resources import ResourceCall, ResourceResult
from services.sql import ddl

_NO_DATA = {
    "POST": "No data in schema create request.",
    "PUT": "No data in schema update request.",
    "PATCH": "No data in schema update request.",
    "DELETE": "No data in schema delete request.",
}


def handle(call: ResourceCall) -> ResourceResult:
    """Dispatch on verb and path: (), (t,), (t, _field[, f]), (t, _related[, r]), (t, f)."""
    bit = VERB_BITS.get(call.verb)
    if bit is None:
        raise BadRequest(f"The {call.verb} verb is not supported on _schema.")
    if not call.grant.verbs & bit:
        component = "/".join(("_schema", *call.segments)).lower()
        raise Forbidden(
            f"Access Forbidden. {call.verb} access to component '{component}' of service "
            f"'{call.live.config.name}' is not allowed by this user's role."
        )
    if len(call.segments) > 3 or any(not s for s in call.segments):
        raise BadRequest("Invalid schema path in request.")
    if call.verb == "GET":
        return _describe(call)
    if call.verb == "DELETE":
        return _delete(call)
    return _write(call)


# --- options ---------------------------------------------------------------------------------


def _option(call: ResourceCall, name: str) -> Any:
    if name in call.query:
        return call.query[name]
    if isinstance(call.body, dict):
        return call.body.get(name)
    return None


def _flag(call: ResourceCall, name: str) -> bool:
    value = _option(call, name)
    return value is not None and as_bool(value)


# --- GET -------------------------------------------------------------------------------------


def _field(table: Table, name: str) -> Any:
    col = table.find_column(name)
    if col is None:
        raise NotFound(f"No requested fields found in table '{table.name}'.")
    return col


def _relation(table: Table, name: str) -> Relation:
    for rel in table.relations:
        if rel.name == name or rel.name.lower() == name.lower():
            return rel
    raise NotFound(f"No requested relationships found in table '{table.name}'.")


def _describe(call: ResourceCall) -> ResourceResult:
    refresh = _flag(call, "refresh")
    cache = call.live.schema(refresh=refresh)
    verbs, service_id = call.grant.verbs, call.live.config.id

    def extras(table: Table) -> TableExtras:
        # comments, indexes and constraints: read (and cached) only when a shape needs them
        return extras_for(load_extras(call.live, cache), table)

    def describe(table: Table, mask: int = verbs) -> dict[str, Any]:
        return table_description(table, extras(table), mask, service_id)

    segs = call.segments
    if not segs:
        ids = name_list(_option(call, "ids"))
        if ids:  # named tables: each must be reachable, like GET /_schema/{t}
            named = [cache.table(n) for n in ids]
            grants = [call.grant.check(f"_schema/{t.name}", "GET") for t in named]
            return {"resource": [describe(t, g.verbs) for t, g in zip(named, grants, strict=True)]}
        # the list holds only the tables the caller's role reaches (spec §4.1)
        masks = {t.name: call.grant.mask(f"_schema/{t.name}") for t in cache.sorted_tables()}
        tables = [t for t in cache.sorted_tables() if masks[t.name]]
        if _flag(call, "as_list"):
            return {"resource": [t.name for t in tables]}
        fields = name_list(_option(call, "fields"))
        if not fields:
            return {"resource": [{"name": t.name} for t in tables]}
        rows = [table_summary(t, extras(t), masks[t.name]) for t in tables]
        if "*" not in fields:
            rows = [{k: row[k] for k in fields if k in row} for row in rows]
        return {"resource": rows}

    table = cache.table(segs[0])
    if len(segs) == 1:
        return describe(table)
    table_extras = extras(table)
    kind = segs[1]
    if kind == "_related":
        if len(segs) == 3:
            return relation_description(_relation(table, segs[2]), service_id)
        names = name_list(_option(call, "ids"))
        rels = [_relation(table, n) for n in names] if names else list(table.relations)
        return {"resource": [relation_description(r, service_id) for r in rels]}
    if kind == "_field" and len(segs) == 2:
        names = name_list(_option(call, "ids"))
        cols = [_field(table, n) for n in names] if names else list(table.columns)
        return {"resource": [field_description(table, c, table_extras) for c in cols]}
    if kind != "_field" and len(segs) == 3:
        raise BadRequest("Invalid schema path in describe request.")
    name = segs[2] if kind == "_field" else kind  # `/_schema/t/f`: DF's deprecated form
    return field_description(table, _field(table, name), table_extras)


# --- POST / PUT / PATCH ----------------------------------------------------------------------


def _table_results(
    call: ResourceCall, results: list[str | GatewayError], *, wrap: bool = True
) -> ResourceResult:
    """`{"resource":[{"name":..}]}`, full descriptions with `fields`, names with `as_list`."""
    want_full = bool(_option(call, "fields"))
    cache = call.live.schema()
    extras = load_extras(call.live, cache) if want_full else {}
    out: list[Any] = []
    for result in results:
        if isinstance(result, GatewayError):
            out.append({"error": result.as_dict()})
        elif want_full:
            table = cache.table(result)
            out.append(
                table_description(
                    table, extras_for(extras, table), call.grant.verbs, call.live.config.id
                )
            )
        elif _flag(call, "as_list"):
            out.append(result)
        else:
            out.append({"name": result})
    if not wrap:
        return out[0]  # type: ignore[no-any-return]
    return {"resource": out}


def _field_results(
    call: ResourceCall, table_name: str, names: list[str], *, single: bool
) -> ResourceResult:
    if _option(call, "fields"):
        cache = call.live.schema()
        table = cache.table(table_name)
        table_extras = extras_for(load_extras(call.live, cache), table)
        out: list[Any] = [field_description(table, _field(table, n), table_extras) for n in names]
    else:
        out = [{"name": n} for n in names]
    return out[0] if single else {"resource": out}  # type: ignore[no-any-return]


def _write(call: ResourceCall) -> ResourceResult:
    verb, segs = call.verb, call.segments
    # plan against the database as it is now: another process may have changed it since
    cache = call.live.schema(refresh=True)
    modes = {
        "allow_merge": not (verb == "POST" and _flag(call, "check_exist")),
        "drop_unlisted": verb == "PUT",
    }
    if not segs:
        items = records(call.body)
        if not items:
            raise BadRequest(_NO_DATA[verb])
        for item in items:  # every table needs a name before anything is changed (DF)
            if not isinstance(item, dict) or not item.get("name"):
                raise BadRequest("Table schema received does not have a valid name.")
        results = apply_tables(call.live, items, rollback=_flag(call, "rollback"), **modes)
        return _table_results(call, results)

    table = cache.table(segs[0])
    if len(segs) == 1:
        if isinstance(call.body, list):
            raise BadRequest("Send one table object to /_schema/{table}, or a list to /_schema.")
        body = call.body if isinstance(call.body, dict) else {}
        results = apply_tables(
            call.live, [body], parse=lambda b: parse_table(b, name=table.name), **modes
        )
        return _table_results(call, results, wrap=False)

    kind = segs[1]
    if kind == "_related":
        return _write_related(call, table)
    if kind == "_field" and len(segs) == 2:
        items = records(call.body)
        if not items:
            raise BadRequest(_NO_DATA[verb])
        fields = [parse_field(i) for i in items]
    else:
        if kind != "_field" and len(segs) == 3:
            raise BadRequest("Invalid schema path in request.")
        if not isinstance(call.body, dict) or not call.body:
            raise BadRequest(_NO_DATA[verb])
        fields = [parse_field(call.body, name=segs[2] if kind == "_field" else kind)]
    # fields are created or altered, never dropped here, whatever the verb (as in DF)
    spec = TableSpec(name=table.name, fields=tuple(fields))
    apply_tables(call.live, [spec], parse=lambda same: same)
    names = [f.new_name or f.name for f in fields]
    return _field_results(call, table.name, names, single=len(segs) == 3 or kind != "_field")


def _write_related(call: ResourceCall, table: Table) -> ResourceResult:
    """Relationships come from foreign keys: only non-virtual entries are accepted (no-op)."""
    segs = call.segments
    if len(segs) == 3:
        body = call.body if isinstance(call.body, dict) else {}
        names = parse_related([{**body, "name": segs[2]}], table.name)
        _relation(table, segs[2])
        return {"name": names[0]}
    items = records(call.body)
    if not items:
        raise BadRequest(_NO_DATA[call.verb])
    names = parse_related(items, table.name)
    return {"resource": [{"name": _relation(table, n).name} for n in names]}


# --- DELETE ----------------------------------------------------------------------------------


def _names_to_delete(call: ResourceCall) -> list[str]:
    names = name_list(_option(call, "ids")) or name_list(records(call.body))
    if not names:
        raise BadRequest(_NO_DATA["DELETE"])
    return list(dict.fromkeys(names))  # each once, in the order given


def _drop_relation_statement(cache: SchemaCache, table: Table, rel: Relation) -> ddl.Statement:
    # the constraint lives on the referencing table: this one for belongs_to, else the other
    owner = table if rel.type == "belongs_to" else cache.table(rel.ref_table)
    return ddl.drop_constraint(ddl.table_ref(owner.schema, owner.db_name), rel.constraint)


def _delete(call: ResourceCall) -> ResourceResult:
    segs = call.segments
    cache = call.live.schema(refresh=True)
    if not segs:
        found = [cache.table(n) for n in _names_to_delete(call)]
        tables = list({t.name: t for t in found}.values())
        run_in_transaction(
            call.live,
            [
                ddl.drop_relation(ddl.table_ref(t.schema, t.db_name), is_view=t.is_view)
                for t in tables
            ],
        )
        return {"resource": [{"name": t.name} for t in tables]}
    table = cache.table(segs[0])
    if len(segs) == 1:
        statement = ddl.drop_relation(
            ddl.table_ref(table.schema, table.db_name), is_view=table.is_view
        )
        run_in_transaction(call.live, [statement])
        return {"success": True}
    kind = segs[1]
    if kind == "_related":
        names = [segs[2]] if len(segs) == 3 else _names_to_delete(call)
        rels = [_relation(table, n) for n in names]
        run_in_transaction(call.live, [_drop_relation_statement(cache, table, r) for r in rels])
        return {"success": True}
    if kind != "_field" and len(segs) == 3:
        raise BadRequest("Invalid schema path in delete request.")
    if kind == "_field":
        names = [segs[2]] if len(segs) == 3 else _names_to_delete(call)
    else:
        names = [kind]
    if table.is_view:
        raise BadRequest(f"'{table.name}' is a view; views can not be altered through _schema.")
    cols = [_field(table, n).name for n in names]
    run_in_transaction(call.live, drop_fields(table, cols))
    return {"success": True}
