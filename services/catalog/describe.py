"""`_schema` descriptions in DF's shapes (spec §4.2), from the schema cache plus catalog extras.

The schema cache has no comments, indexes or check constraints; `read_extras()` reads them with
its own catalog queries (schema names are bound parameters); the live service caches them
(LiveService.extras), so they drop together with the schema cache. Nothing here writes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg

from core.responses import label_for, plural
from core.verbs import verb_names
from services.catalog.introspection import FK_ACTIONS
from services.catalog.schema_cache import Column, Relation, Table

_COMMENTS_SQL = """
SELECT n.nspname, c.relname, a.attname, d.description
FROM pg_description d
JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
WHERE n.nspname = ANY(%(schemas)s) AND (d.objsubid = 0 OR a.attname IS NOT NULL)
"""

_INDEXES_SQL = """
SELECT n.nspname, c.relname, ic.relname, i.indisunique, i.indisprimary,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[] AS columns,
       (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR i.indnkeyatts <> i.indnatts)
           AS special,
       con.conname
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
      AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = ANY(%(schemas)s)
"""

_CONSTRAINTS_SQL = """
SELECT n.nspname, c.relname, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[] AS columns,
       fn.nspname, fc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[] AS ref_columns,
       con.confupdtype, con.confdeltype,
       CASE WHEN con.contype = 'c' THEN pg_get_constraintdef(con.oid) END
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f', 'c', 'x') AND n.nspname = ANY(%(schemas)s)
ORDER BY con.conname
"""

_CONSTRAINT_TYPES = {
    "p": "PRIMARY KEY",
    "u": "UNIQUE",
    "f": "FOREIGN KEY",
    "c": "CHECK",
    "x": "EXCLUDE",
}
_TEXT_TYPES = frozenset({"varchar", "bpchar", "text", "name", "citext"})
_QUOTED_DEFAULT = re.compile(
    r"'((?:[^']|'')*)'(?:::[a-z_][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?(?:\[\])*)*", re.DOTALL
)
_NUMBER_DEFAULT = re.compile(
    r"\(?'?(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)'?\)?(?:::[a-z_][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?)*"
)
_NULL_DEFAULT = re.compile(r"NULL(?:::[a-z_][a-z0-9_ ]*(?:\(\d+(?:,\d+)?\))?(?:\[\])*)*")
EXTRAS_KEY = "_schema_extras"


@dataclass(frozen=True, slots=True)
class IndexInfo:
    name: str
    columns: tuple[str, ...]
    unique: bool
    primary: bool
    special: bool  # expression, partial or INCLUDE index: never reported as is_index/is_unique
    constraint: str | None  # the PRIMARY KEY/UNIQUE constraint it backs, if any


@dataclass(frozen=True, slots=True)
class ConstraintInfo:
    name: str
    type: str  # p, u, f, c, x
    columns: tuple[str, ...]
    ref_schema: str | None = None
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_update: str | None = None
    on_delete: str | None = None
    definition: str | None = None  # CHECK (...) text for check constraints


@dataclass(slots=True)
class TableExtras:
    """Comments, indexes and constraints of one relation."""

    comment: str | None = None
    column_comments: dict[str, str] = field(default_factory=dict)
    indexes: list[IndexInfo] = field(default_factory=list)
    constraints: list[ConstraintInfo] = field(default_factory=list)

    def primary_key_constraint(self) -> ConstraintInfo | None:
        return next((c for c in self.constraints if c.type == "p"), None)

    def unique_constraints(self, column: str) -> list[str]:
        return [c.name for c in self.constraints if c.type == "u" and c.columns == (column,)]

    def unique_indexes(self, column: str) -> list[str]:
        """Single-column unique indexes that back no constraint (dropped with DROP INDEX)."""
        return [
            i.name
            for i in self.indexes
            if i.unique and not i.primary and not i.special and not i.constraint
            if i.columns == (column,)
        ]

    def plain_indexes(self, column: str) -> list[str]:
        return [
            i.name
            for i in self.indexes
            if not i.unique and not i.special and i.columns == (column,)
        ]

    def foreign_keys(self, column: str) -> list[ConstraintInfo]:
        return [c for c in self.constraints if c.type == "f" and c.columns == (column,)]


Extras = dict[tuple[str, str], TableExtras]


def read_extras(conn: psycopg.Connection[Any], schemas: list[str]) -> Extras:
    """Comments, indexes and constraints of every relation in `schemas`."""
    params = {"schemas": schemas}
    extras: Extras = defaultdict(TableExtras)
    for nsp, rel, att, text in conn.execute(_COMMENTS_SQL, params).fetchall():
        if att is None:
            extras[(nsp, rel)].comment = text
        else:
            extras[(nsp, rel)].column_comments[att] = text
    for nsp, rel, name, unique, primary, cols, special, conname in conn.execute(
        _INDEXES_SQL, params
    ).fetchall():
        extras[(nsp, rel)].indexes.append(
            IndexInfo(name, tuple(cols), unique, primary, special or len(cols) == 0, conname)
        )
    for row in conn.execute(_CONSTRAINTS_SQL, params).fetchall():
        nsp, rel, name, kind, cols, rnsp, rrel, rcols, upd, dele, definition = row
        extras[(nsp, rel)].constraints.append(
            ConstraintInfo(
                name=name,
                type=kind,
                columns=tuple(cols),
                ref_schema=rnsp,
                ref_table=rrel,
                ref_columns=tuple(rcols),
                on_update=FK_ACTIONS.get(upd) if kind == "f" else None,
                on_delete=FK_ACTIONS.get(dele) if kind == "f" else None,
                definition=definition,
            )
        )
    return dict(extras)


def extras_for(extras: Extras, table: Table) -> TableExtras:
    return extras.get((table.schema, table.db_name)) or TableExtras()


# --- DF shapes -------------------------------------------------------------------------------


def default_value(column: Column) -> Any:
    """The column default as DF shows it: literals unquoted and typed, expressions as text."""
    text = column.default
    if text is None or (column.auto_increment and text.startswith("nextval(")):
        return None
    if text in ("true", "false"):
        return text == "true"
    if _NULL_DEFAULT.fullmatch(text):
        return None
    number = _NUMBER_DEFAULT.fullmatch(text)
    if number and column.category == "N":
        value = number[1]
        return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    quoted = _QUOTED_DEFAULT.fullmatch(text)
    if quoted:
        return quoted[1].replace("''", "'")
    return text


def _fk_of(table: Table, column: str) -> Relation | None:
    for rel in table.relations:
        if rel.type == "belongs_to" and rel.fields == (column,):
            return rel
    return None


def field_description(table: Table, col: Column, extras: TableExtras) -> dict[str, Any]:
    """One field as DF describes it (spec §4.2)."""
    fk = _fk_of(table, col.name)
    unique = bool(extras.unique_constraints(col.name) or extras.unique_indexes(col.name))
    return {
        "alias": None,
        "name": col.name,
        "label": label_for(col.name),
        "description": extras.column_comments.get(col.name),
        "native": [],
        "type": col.simple_type,
        "db_type": _strip_typmod(col.db_type),
        "length": col.length,
        "precision": col.precision,
        "scale": col.scale,
        "default": default_value(col),
        "required": col.required,
        "allow_null": col.nullable,
        "fixed_length": col.base_type == "bpchar",
        "supports_multibyte": col.base_type in _TEXT_TYPES,
        "auto_increment": col.auto_increment,
        "is_primary_key": col.is_primary_key,
        "is_unique": unique,
        "is_index": bool(extras.plain_indexes(col.name)),
        "is_foreign_key": fk is not None,
        "ref_table": fk.ref_table if fk else None,
        "ref_field": fk.ref_fields[0] if fk else None,
        "ref_on_update": fk.on_update if fk else None,
        "ref_on_delete": fk.on_delete if fk else None,
        "picklist": None,
        "validation": None,
        "db_function": None,
        "is_virtual": False,
        "is_aggregate": False,
    }


def _strip_typmod(db_type: str) -> str:
    return re.sub(r"\(\d+(?:,\d+)?\)", "", db_type)


def relation_description(rel: Relation, service_id: int) -> dict[str, Any]:
    return {
        "alias": None,
        "name": rel.name,
        "label": label_for(rel.name),
        "description": None,
        "native": [],
        "type": rel.type,
        "field": ",".join(rel.fields),
        "is_virtual": False,
        "ref_service_id": service_id,
        "ref_table": rel.ref_table,
        "ref_field": ",".join(rel.ref_fields),
        "ref_on_update": rel.on_update,
        "ref_on_delete": rel.on_delete,
        "junction_service_id": service_id if rel.junction_table else None,
        "junction_table": rel.junction_table,
        "junction_field": ",".join(rel.junction_fields) or None,
        "junction_ref_field": ",".join(rel.junction_ref_fields) or None,
        "always_fetch": False,
        "flatten": False,
        "flatten_drop_prefix": False,
    }


def _columns(names: tuple[str, ...]) -> str | list[str]:
    return names[0] if len(names) == 1 else list(names)


def constraints(table: Table, extras: TableExtras) -> dict[str, dict[str, Any]]:
    """`{name: {constraint_type, table_schema, table_name, column_name, ...}}` (driver shape)."""
    out: dict[str, dict[str, Any]] = {}
    for con in extras.constraints:
        entry: dict[str, Any] = {
            "constraint_type": _CONSTRAINT_TYPES[con.type],
            "table_schema": table.schema,
            "table_name": table.db_name,
            "column_name": _columns(con.columns),
        }
        if con.type == "f":
            entry |= {
                "referenced_table_schema": con.ref_schema,
                "referenced_table_name": con.ref_table,
                "referenced_column_name": _columns(con.ref_columns),
                "update_rule": con.on_update,
                "delete_rule": con.on_delete,
            }
        if con.definition is not None:
            entry["check_clause"] = con.definition
        out[con.name] = entry
    return out


def table_summary(table: Table, extras: TableExtras, verbs: int) -> dict[str, Any]:
    """A table in `GET /_schema?fields=*` (access as verb names, quirk)."""
    label = label_for(table.name)
    return {
        "alias": None,
        "name": table.name,
        "label": label,
        "description": extras.comment,
        "native": [],
        "plural": plural(label),
        "is_view": table.is_view,
        "access": verb_names(verbs & table.verbs),
    }


def table_description(
    table: Table, extras: TableExtras, verbs: int, service_id: int
) -> dict[str, Any]:
    """`GET /_schema/{t}` (spec §4.2; access as the integer verb mask)."""
    return {
        **table_summary(table, extras, verbs),
        "primary_key": list(table.primary_key),
        "name_field": None,
        "field": [field_description(table, c, extras) for c in table.columns],
        "related": [relation_description(r, service_id) for r in table.relations],
        "constraints": constraints(table, extras),
        "access": verbs & table.verbs,  # an integer here, verb names in the summary
    }
