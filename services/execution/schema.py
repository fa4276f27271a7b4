"""Execute stage for `_schema` (spec §4): describe tables, fields and relationships, and create,
alter or drop them.

Descriptions come from the schema cache and services/catalog/describe.py; changes are planned
by services/ddl/changes.py against the live schema (re-read first: another process may have
changed it) and applied by services/ddl/apply.py, which refreshes the schema cache before the
answer is sent.
"""

from __future__ import annotations

from typing import Any

from core.access import Access
from core.errors import BadRequest, GatewayError, NotFound
from services.catalog.describe import (
    TableExtras,
    extras_for,
    field_description,
    relation_description,
    table_description,
    table_summary,
)
from services.catalog.schema_cache import Column, Relation, SchemaCache, Table
from services.ddl.apply import apply_tables, run_in_transaction
from services.ddl.changes import drop_fields
from services.plan.table_spec import TableSpec, parse_field, parse_related, parse_table
from services.plan.types import BoundSchemaRead, SchemaWrite
from services.registry import LiveService
from services.sql import ddl

_NO_DATA = {
    "POST": "No data in schema create request.",
    "PUT": "No data in schema update request.",
    "PATCH": "No data in schema update request.",
    "DELETE": "No data in schema delete request.",
}

Answer = dict[str, Any] | list[Any]


def _field(table: Table, name: str) -> Column:
    col = table.find_column(name)
    if col is None:
        raise NotFound(f"No requested fields found in table '{table.name}'.")
    return col


def _relation(table: Table, name: str) -> Relation:
    for rel in table.relations:
        if rel.name == name or rel.name.lower() == name.lower():
            return rel
    raise NotFound(f"No requested relationships found in table '{table.name}'.")


# --- GET -------------------------------------------------------------------------------------


def describe(live: LiveService, bound: BoundSchemaRead, access: Access) -> Answer:
    """GET /_schema, /_schema/{t}, /{t}/_field[/{f}], /{t}/_related[/{r}], /{t}/{f}."""
    plan, cache, service_id = bound.plan, bound.schema, live.config.id

    def extras(table: Table) -> TableExtras:
        # comments, indexes and constraints: read (and cached) only when a shape needs them
        return extras_for(live.extras(cache), table)

    def full(table: Table, mask: int = access.verbs) -> dict[str, Any]:
        return table_description(table, extras(table), mask, service_id)

    if bound.table is None:
        if plan.names:  # named tables: each must be reachable, like GET /_schema/{t}
            named = [cache.table(n) for n in plan.names]
            grants = [access.check(f"_schema/{t.name}", "GET") for t in named]
            return {"resource": [full(t, g.verbs) for t, g in zip(named, grants, strict=True)]}
        # the list holds only the tables the caller's role reaches (spec §4.1)
        masks = {t.name: access.mask(f"_schema/{t.name}") for t in cache.sorted_tables()}
        tables = [t for t in cache.sorted_tables() if masks[t.name]]
        if plan.as_list:
            return {"resource": [t.name for t in tables]}
        if not plan.fields:
            return {"resource": [{"name": t.name} for t in tables]}
        rows = [table_summary(t, extras(t), masks[t.name]) for t in tables]
        if "*" not in plan.fields:
            rows = [{k: row[k] for k in plan.fields if k in row} for row in rows]
        return {"resource": rows}

    table, path = bound.table, plan.path
    if len(path) == 1:
        return full(table)
    table_extras = extras(table)
    kind = path[1]
    if kind == "_related":
        if len(path) == 3:
            return relation_description(_relation(table, path[2]), service_id)
        rels = [_relation(table, n) for n in plan.names] if plan.names else list(table.relations)
        return {"resource": [relation_description(r, service_id) for r in rels]}
    if kind == "_field" and len(path) == 2:
        cols = [_field(table, n) for n in plan.names] if plan.names else list(table.columns)
        return {"resource": [field_description(table, c, table_extras) for c in cols]}
    if kind != "_field" and len(path) == 3:
        raise BadRequest("Invalid schema path in describe request.")
    name = path[2] if kind == "_field" else kind  # `/_schema/t/f`: DF's deprecated form
    return field_description(table, _field(table, name), table_extras)


# --- POST / PUT / PATCH ----------------------------------------------------------------------


def _table_results(
    live: LiveService,
    plan: SchemaWrite,
    access: Access,
    results: list[str | GatewayError],
    *,
    wrap: bool = True,
) -> Answer:
    """`{"resource":[{"name":..}]}`, full descriptions with `fields`, names with `as_list`."""
    cache = live.schema()
    extras = live.extras(cache) if plan.describe else {}
    out: list[Any] = []
    for result in results:
        if isinstance(result, GatewayError):
            out.append({"error": result.as_dict()})
        elif plan.describe:
            table = cache.table(result)
            out.append(
                table_description(table, extras_for(extras, table), access.verbs, live.config.id)
            )
        elif plan.as_list:
            out.append(result)
        else:
            out.append({"name": result})
    if not wrap:
        answer: dict[str, Any] = out[0]  # one table's answer, unwrapped
        return answer
    return {"resource": out}


def _field_results(
    live: LiveService, plan: SchemaWrite, table_name: str, names: list[str], *, single: bool
) -> Answer:
    if plan.describe:
        cache = live.schema()
        table = cache.table(table_name)
        table_extras = extras_for(live.extras(cache), table)
        out: list[Any] = [field_description(table, _field(table, n), table_extras) for n in names]
    else:
        out = [{"name": n} for n in names]
    if single:
        one: dict[str, Any] = out[0]
        return one
    return {"resource": out}


def change(live: LiveService, plan: SchemaWrite, access: Access) -> Answer:
    """POST, PUT, PATCH and DELETE on /_schema[...]."""
    if plan.verb == "DELETE":
        return _delete(live, plan)
    path = plan.path
    # plan against the database as it is now: another process may have changed it since
    cache = live.schema(refresh=True)
    allow_merge = not (plan.verb == "POST" and plan.check_exist)
    drop_unlisted = plan.verb == "PUT"
    if not path:
        if not plan.items:
            raise BadRequest(_NO_DATA[plan.verb])
        for item in plan.items:  # every table needs a name before anything is changed (DF)
            if not isinstance(item, dict) or not item.get("name"):
                raise BadRequest("Table schema received does not have a valid name.")
        results = apply_tables(
            live,
            list(plan.items),
            rollback=plan.rollback,
            allow_merge=allow_merge,
            drop_unlisted=drop_unlisted,
        )
        return _table_results(live, plan, access, results)

    table = cache.table(path[0])
    if len(path) == 1:
        if isinstance(plan.body, list):
            raise BadRequest("Send one table object to /_schema/{table}, or a list to /_schema.")
        body = plan.body if isinstance(plan.body, dict) else {}
        results = apply_tables(
            live,
            [body],
            parse=lambda b: parse_table(b, name=table.name),
            allow_merge=allow_merge,
            drop_unlisted=drop_unlisted,
        )
        return _table_results(live, plan, access, results, wrap=False)

    kind = path[1]
    if kind == "_related":
        return _write_related(plan, table)
    if kind == "_field" and len(path) == 2:
        if not plan.items:
            raise BadRequest(_NO_DATA[plan.verb])
        fields = [parse_field(i) for i in plan.items]
    else:
        if kind != "_field" and len(path) == 3:
            raise BadRequest("Invalid schema path in request.")
        if not isinstance(plan.body, dict) or not plan.body:
            raise BadRequest(_NO_DATA[plan.verb])
        fields = [parse_field(plan.body, name=path[2] if kind == "_field" else kind)]
    # fields are created or altered, never dropped here, whatever the verb (as in DF)
    spec = TableSpec(name=table.name, fields=tuple(fields))
    apply_tables(live, [spec], parse=lambda same: same)
    names = [f.new_name or f.name for f in fields]
    return _field_results(live, plan, table.name, names, single=len(path) == 3 or kind != "_field")


def _write_related(plan: SchemaWrite, table: Table) -> Answer:
    """Relationships come from foreign keys: only non-virtual entries are accepted (no-op)."""
    path = plan.path
    if len(path) == 3:
        body = plan.body if isinstance(plan.body, dict) else {}
        names = parse_related([{**body, "name": path[2]}], table.name)
        _relation(table, path[2])
        return {"name": names[0]}
    if not plan.items:
        raise BadRequest(_NO_DATA[plan.verb])
    names = parse_related(list(plan.items), table.name)
    return {"resource": [{"name": _relation(table, n).name} for n in names]}


# --- DELETE ----------------------------------------------------------------------------------


def _names_to_delete(plan: SchemaWrite) -> list[str]:
    if not plan.names:
        raise BadRequest(_NO_DATA["DELETE"])
    return list(plan.names)


def _drop_relation_statement(cache: SchemaCache, table: Table, rel: Relation) -> ddl.Statement:
    if rel.type == "many_many":
        raise BadRequest(
            f"Relationship '{rel.name}' comes from the foreign keys of '{rel.junction_table}'; "
            "drop one of those to remove it."
        )
    # the constraint lives on the referencing table: this one for belongs_to, else the other
    owner = table if rel.type == "belongs_to" else cache.table(rel.ref_table)
    return ddl.drop_constraint(ddl.table_ref(owner.schema, owner.db_name), rel.constraint)


def _delete(live: LiveService, plan: SchemaWrite) -> Answer:
    path = plan.path
    cache = live.schema(refresh=True)
    if not path:
        found = [cache.table(n) for n in _names_to_delete(plan)]
        tables = list({t.name: t for t in found}.values())
        run_in_transaction(
            live,
            [
                ddl.drop_relation(ddl.table_ref(t.schema, t.db_name), is_view=t.is_view)
                for t in tables
            ],
        )
        return {"resource": [{"name": t.name} for t in tables]}
    table = cache.table(path[0])
    if len(path) == 1:
        statement = ddl.drop_relation(
            ddl.table_ref(table.schema, table.db_name), is_view=table.is_view
        )
        run_in_transaction(live, [statement])
        return {"success": True}
    kind = path[1]
    if kind == "_related":
        names = [path[2]] if len(path) == 3 else _names_to_delete(plan)
        rels = [_relation(table, n) for n in names]
        run_in_transaction(live, [_drop_relation_statement(cache, table, r) for r in rels])
        return {"success": True}
    if kind != "_field" and len(path) == 3:
        raise BadRequest("Invalid schema path in delete request.")
    if kind == "_field":
        names = [path[2]] if len(path) == 3 else _names_to_delete(plan)
    else:
        names = [kind]
    if table.is_view:
        raise BadRequest(f"'{table.name}' is a view; views can not be altered through _schema.")
    cols = [_field(table, n).name for n in names]
    run_in_transaction(live, drop_fields(table, cols))
    return {"success": True}
