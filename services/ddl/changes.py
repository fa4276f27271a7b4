"""Plan `_schema` writes: TableSpec/FieldSpec x current schema -> an ordered list of DDL statements.

Pure: it compares what the client sent with what the schema cache and catalog extras say,
and emits only the statements needed (a described field sent back unchanged is a no-op).
It runs nothing; the resource module executes the list in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.errors import BadRequest
from services.catalog.describe import TableExtras, field_description
from services.catalog.schema_cache import Column, Table
from services.plan.table_spec import FieldSpec, TableSpec
from services.sql import ddl, ddl_types

_TYPE_KEYS = ("type", "db_type", "length", "precision", "scale", "fixed_length")
_INT_TYPES = frozenset({"smallint", "integer", "bigint"})


@dataclass(frozen=True, slots=True)
class RefTarget:
    """A table a foreign key may point at: cached, or created earlier in this request."""

    api_name: str
    schema: str
    db_name: str
    primary_key: tuple[str, ...]
    columns: Mapping[str, tuple[str, str]]  # lower-cased name -> (name, format_type text)

    def column(self, name: str) -> tuple[str, str] | None:
        return self.columns.get(name) or self.columns.get(name.lower())

    @property
    def ref(self) -> ddl.Fragment:
        return ddl.table_ref(self.schema, self.db_name)


Resolver = Callable[[str], RefTarget]


@dataclass(frozen=True, slots=True)
class ForeignKeyPlan:
    target: RefTarget
    column: str
    column_type: str
    on_delete: str | None
    on_update: str | None


def ref_target_of(table: Table) -> RefTarget:
    return RefTarget(
        api_name=table.name,
        schema=table.schema,
        db_name=table.db_name,
        primary_key=table.primary_key,
        columns={c.name.lower(): (c.name, c.db_type) for c in table.columns}
        | {c.name: (c.name, c.db_type) for c in table.columns},
    )


# --- types and keys --------------------------------------------------------------------------


def _foreign_key(spec: FieldSpec, resolve: Resolver) -> ForeignKeyPlan | None:
    ref_table = spec.get("ref_table")
    if not ref_table:
        if spec.type == "reference" or spec.get("is_foreign_key"):
            raise BadRequest(
                f"Invalid schema detected - no table element for reference type of {spec.name}."
            )
        return None
    target = resolve(str(ref_table))
    ref_field = spec.get("ref_field", spec.get("ref_fields"))
    if isinstance(ref_field, list):
        if len(ref_field) != 1:
            raise BadRequest(f"Field '{spec.name}': a foreign key references exactly one field.")
        ref_field = ref_field[0]
    if not ref_field:
        if len(target.primary_key) != 1:
            raise BadRequest(
                f"Field '{spec.name}': table '{target.api_name}' has no single-field primary "
                "key; name the referenced field in ref_field."
            )
        ref_field = target.primary_key[0]
    found = target.column(str(ref_field))
    if found is None:
        raise BadRequest(
            f"Field '{spec.name}': referenced field '{ref_field}' does not exist in table "
            f"'{target.api_name}'."
        )
    return ForeignKeyPlan(
        target=target,
        column=found[0],
        column_type=found[1],
        on_delete=ddl_types.fk_action(spec.get("ref_on_delete"), spec.name, "ref_on_delete"),
        on_update=ddl_types.fk_action(spec.get("ref_on_update"), spec.name, "ref_on_update"),
    )


def _reference_type(fk: ForeignKeyPlan | None, field: str) -> ddl_types.SqlType:
    """A reference column takes the referenced column's type (integer when unknown)."""
    if fk is None:
        return ddl_types.SqlType("integer")
    try:
        return ddl_types.parse_db_type(fk.column_type, field)
    except BadRequest:
        raise BadRequest(
            f"Field '{field}': the referenced field has type '{fk.column_type}', which "
            "this gateway can not create; reference another field."
        ) from None


def _new_type(spec: FieldSpec, fk: ForeignKeyPlan | None) -> ddl_types.SqlType:
    kind = spec.type
    props = dict(spec.props)
    if kind == "reference" or (kind is None and spec.get("db_type") is None and fk is not None):
        return _reference_type(fk, spec.name)
    if kind:
        return ddl_types.simple_type(kind, props, spec.name)
    if spec.get("db_type"):
        return ddl_types.parse_db_type(spec.get("db_type"), spec.name, props)
    raise BadRequest(
        "Invalid schema detected - no type or db_type element.", context={"field": spec.name}
    )


def _norm(key: str, value: Any) -> Any:
    """A type-related property in a comparable form ("80" == 80, case and spacing ignored)."""
    if value is None or value == "":
        return None
    if key in ("length", "precision", "scale"):
        try:
            return int(str(value))
        except ValueError:
            return value
    if key == "fixed_length":
        return bool(value)
    return " ".join(str(value).lower().split())


def _same(a: Any, b: Any) -> bool:
    """Equal defaults/descriptions: numbers by value, "" as null, everything else exactly."""
    a = None if a == "" else a
    b = None if b == "" else b
    numeric = (int, float, Decimal)
    if isinstance(a, numeric) and isinstance(b, numeric):
        if not isinstance(a, bool) and not isinstance(b, bool):
            return bool(a == b)
    return (type(a) is type(b) and a == b) or (a is None and b is None)


def _altered_type(
    spec: FieldSpec, current: dict[str, Any], col: Column, fk: ForeignKeyPlan | None
) -> ddl_types.SqlType | None:
    """The new column type, or None when the type-related keys sent match the column."""
    changed = {
        k for k in _TYPE_KEYS if spec.has(k) and _norm(k, spec.get(k)) != _norm(k, current[k])
    }
    if "db_type" in changed and _norm("db_type", spec.get("db_type")) == _norm(
        "db_type", col.db_type
    ):
        changed.discard("db_type")
    if not changed:
        return None
    kind = spec.type
    if "type" in changed and kind:
        if kind in ddl_types.ID_TYPES:
            if not col.auto_increment:
                raise BadRequest(
                    f"Field '{col.name}' can not become an auto-increment key; add a new "
                    "field of that type instead."
                )
            return ddl_types.SqlType(ddl_types.SIMPLE_TYPES[kind])
        if kind == "reference":
            return None if col.db_type in _INT_TYPES else _reference_type(fk, col.name)
        return ddl_types.simple_type(kind, dict(spec.props), col.name)
    merged = {k: current[k] for k in _TYPE_KEYS} | {
        k: spec.get(k) for k in _TYPE_KEYS if spec.has(k)
    }
    if "db_type" in changed:
        return ddl_types.parse_db_type(spec.get("db_type"), col.name, merged)
    base = ddl_types.strip_typmod(col.db_type)
    if "fixed_length" in changed and base in ("character varying", "character"):
        base = "character" if merged.get("fixed_length") else "character varying"
    return ddl_types.parse_db_type(base, col.name, merged)


def _default_sql(spec: FieldSpec) -> ddl.Fragment | None:
    value = spec.get("default")
    if value is not None:
        return ddl_types.default_value(value, spec.name)
    if spec.type in ddl_types.NOW_TYPES:
        return ddl_types.default_value("now()", spec.name)
    return None


# --- new fields --------------------------------------------------------------------------------


def _column_sql(
    spec: FieldSpec, resolve: Resolver, *, inline_pk: bool
) -> tuple[ddl.Fragment, bool]:
    """(column definition, is_primary_key) for a field that does not exist yet."""
    fk = _foreign_key(spec, resolve)
    col_type = _new_type(spec, fk)
    kind = spec.type
    identity = kind in ddl_types.ID_TYPES or bool(spec.get("auto_increment"))
    if identity and ddl_types.strip_typmod(col_type.text) not in _INT_TYPES:
        raise BadRequest(f"Field '{spec.name}': only integer fields can auto-increment.")
    is_pk = kind in ddl_types.ID_TYPES or bool(spec.get("is_primary_key"))
    definition = ddl.column_definition(
        spec.name,
        col_type,
        identity=identity,
        # DF creates columns NOT NULL unless allow_null is true (PostgresSchema)
        not_null=not spec.get("allow_null", False) or is_pk,
        default=_default_sql(spec),
        unique=bool(spec.get("is_unique")),
        primary_key=is_pk and inline_pk,
        references=(fk.target.ref, fk.column, fk.on_delete, fk.on_update) if fk else None,
    )
    return definition, is_pk


def _after_column(table: ddl.Fragment, spec: FieldSpec, name: str) -> list[ddl.Statement]:
    out: list[ddl.Statement] = []
    if spec.get("is_index") and not spec.get("is_unique") and not spec.get("is_primary_key"):
        out.append(ddl.create_index(table, name))
    if spec.get("description"):
        out.append(ddl.comment_on_column(table, name, spec.get("description")))
    return out


def create_table(
    spec: TableSpec, schema: str, db_name: str, resolve: Resolver
) -> list[ddl.Statement]:
    """CREATE TABLE with its columns and keys, then indexes and comments."""
    if not spec.fields:
        raise BadRequest("There are no fields in the requested schema.")
    table = ddl.table_ref(schema, db_name)
    columns: list[ddl.Fragment] = []
    primary_key: list[str] = []
    after: list[ddl.Statement] = []
    for f in spec.fields:
        definition, is_pk = _column_sql(f, resolve, inline_pk=False)
        columns.append(definition)
        if is_pk:
            primary_key.append(f.name)
        after += _after_column(table, f, f.name)
    statements = [ddl.create_table(table, columns, primary_key), *after]
    if spec.props.get("description"):
        statements.append(ddl.comment_on_table(table, spec.props["description"]))
    return statements


def pending_target(spec: TableSpec, schema: str, db_name: str, api_name: str) -> RefTarget:
    """A RefTarget for a table this request creates (foreign keys may point at it at once)."""
    columns: dict[str, tuple[str, str]] = {}
    primary_key = []
    for f in spec.fields or ():
        kind = f.type
        try:
            text = _new_type(f, None).text if kind != "reference" else "integer"
        except BadRequest:
            text = "integer"
        columns[f.name.lower()] = (f.name, text)
        if kind in ddl_types.ID_TYPES or f.get("is_primary_key"):
            primary_key.append(f.name)
    return RefTarget(api_name, schema, db_name, tuple(primary_key), columns)


# --- existing fields -------------------------------------------------------------------------


def alter_field(
    table: Table, extras: TableExtras, col: Column, spec: FieldSpec, resolve: Resolver
) -> list[ddl.Statement]:
    """The statements that make an existing column match what the client sent."""
    tref = ddl.table_ref(table.schema, table.db_name)
    cur = field_description(table, col, extras)
    first: list[ddl.Statement] = []
    changes: list[ddl.Statement] = []
    name = col.name
    if spec.new_name and spec.new_name != name:
        first.append(ddl.rename_column(tref, name, spec.new_name))
        name = spec.new_name

    fk = _foreign_key(spec, resolve) if spec.get("ref_table") else None
    # only keys the description shows (targets the service serves); others are left alone
    shown = {r.constraint for r in table.relations if r.type == "belongs_to"}
    old_fks = [c for c in extras.foreign_keys(col.name) if c.name in shown]
    drop_fk = (spec.has("is_foreign_key") and not spec.get("is_foreign_key")) or (
        spec.has("ref_table") and not spec.get("ref_table")
    )
    if fk is not None:
        same = [
            c
            for c in old_fks
            if (c.ref_schema, c.ref_table) == (fk.target.schema, fk.target.db_name)
            and c.ref_columns == (fk.column,)
            and (fk.on_delete is None or fk.on_delete == c.on_delete)
            and (fk.on_update is None or fk.on_update == c.on_update)
        ]
        drop_fk = not same
    if drop_fk:
        first += [ddl.drop_constraint(tref, c.name) for c in old_fks]

    want_unique = spec.get("is_unique") if spec.has("is_unique") else None
    if want_unique is False and cur["is_unique"]:
        first += [ddl.drop_constraint(tref, n) for n in extras.unique_constraints(col.name)]
        first += [ddl.drop_index(table.schema, n) for n in extras.unique_indexes(col.name)]
    want_index = spec.get("is_index") if spec.has("is_index") else None
    if want_index is False and cur["is_index"]:
        first += [ddl.drop_index(table.schema, n) for n in extras.plain_indexes(col.name)]

    want_pk = spec.get("is_primary_key") if spec.has("is_primary_key") else None
    if want_pk is None and spec.type in ddl_types.ID_TYPES:
        want_pk = True
    if want_pk is False and col.is_primary_key:
        pk = extras.primary_key_constraint()
        if table.primary_key != (col.name,) or pk is None:
            raise BadRequest(
                f"Field '{col.name}' is part of a composite primary key; it can not be "
                "removed from it on its own."
            )
        first.append(ddl.drop_constraint(tref, pk.name))

    new_type = _altered_type(spec, cur, col, fk)
    if new_type is not None and new_type.text != col.db_type:
        changes.append(ddl.set_type(tref, name, new_type))

    if spec.has("default"):
        want = ddl_types.unquote_default(spec.get("default"))
        if not _same(want, cur["default"]):
            changes.append(
                ddl.drop_default(tref, name)
                if want is None
                else ddl.set_default(tref, name, ddl_types.default_value(want, col.name))
            )
    if spec.has("allow_null") and bool(spec.get("allow_null")) != col.nullable:
        changes.append(ddl.set_not_null(tref, name, not spec.get("allow_null")))

    if spec.has("auto_increment") and bool(spec.get("auto_increment")) != col.auto_increment:
        if spec.get("auto_increment"):
            raise BadRequest(
                f"Field '{col.name}' can not become auto-increment; add a new field of type "
                "'id' instead."
            )
        is_identity = col.default is None
        changes.append(
            ddl.drop_identity(tref, name) if is_identity else ddl.drop_default(tref, name)
        )

    if want_pk is True and not col.is_primary_key:
        if table.primary_key:
            raise BadRequest(
                f"Table '{table.name}' already has a primary key ("
                + ", ".join(table.primary_key)
                + f"); field '{col.name}' can not be added to it."
            )
        changes.append(ddl.add_primary_key(tref, [name]))
    if want_unique and not cur["is_unique"] and not (want_pk or col.is_primary_key):
        changes.append(ddl.add_unique(tref, name))
    if want_index and not cur["is_index"]:
        changes.append(ddl.create_index(tref, name))
    if fk is not None and drop_fk:
        changes.append(
            ddl.add_foreign_key(tref, name, fk.target.ref, fk.column, fk.on_delete, fk.on_update)
        )
    if spec.has("description") and not _same(spec.get("description"), cur["description"]):
        changes.append(ddl.comment_on_column(tref, name, spec.get("description")))
    return first + changes


def add_field(table: Table, spec: FieldSpec, resolve: Resolver) -> list[ddl.Statement]:
    tref = ddl.table_ref(table.schema, table.db_name)
    definition, _ = _column_sql(spec, resolve, inline_pk=True)
    return [ddl.add_column(tref, definition), *_after_column(tref, spec, spec.name)]


def alter_table(
    table: Table,
    extras: TableExtras,
    spec: TableSpec,
    resolve: Resolver,
    *,
    drop_unlisted: bool = False,
) -> list[ddl.Statement]:
    """Merge (or, with drop_unlisted, replace) a table's fields; rename it last."""
    if table.is_view:
        raise BadRequest(f"'{table.name}' is a view; views can not be altered through _schema.")
    tref = ddl.table_ref(table.schema, table.db_name)
    drops: list[ddl.Statement] = []
    statements: list[ddl.Statement] = []
    listed: set[str] = set()
    for f in spec.fields or ():
        col = table.find_column(f.name)
        if col is None:
            statements += add_field(table, f, resolve)
        else:
            listed.add(col.name)
            statements += alter_field(table, extras, col, f, resolve)
    if drop_unlisted and spec.fields is not None:
        drops = [ddl.drop_column(tref, c.name) for c in table.columns if c.name not in listed]
    if spec.has("description") and not _same(spec.props["description"], extras.comment):
        statements.append(ddl.comment_on_table(tref, spec.props["description"]))
    if spec.new_name and spec.new_name != table.db_name:
        statements.append(ddl.rename_table(tref, spec.new_name))
    return drops + statements


def drop_fields(table: Table, names: list[str]) -> list[ddl.Statement]:
    tref = ddl.table_ref(table.schema, table.db_name)
    return [ddl.drop_column(tref, n) for n in names]
