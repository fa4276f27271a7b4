"""Read a service's tables, views, columns, keys and foreign keys from the PostgreSQL catalogs.

One catalog query per kind, run on the service's pool; the result is a frozen SchemaCache.
The queries take the schema list as a bound parameter; no user text reaches them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import psycopg

from core.verbs import DELETE, GET, PATCH, POST, PUT
from services.catalog.schema_cache import Column, Relation, SchemaCache, Table

_TABLES_SQL = """
SELECT n.nspname, c.relname, c.relkind IN ('v', 'm') AS is_view,
       pg_relation_is_updatable(c.oid::regclass, true) AS updatable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname = ANY(%(schemas)s)
  AND NOT c.relispartition
ORDER BY n.nspname, c.relname
"""

_COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, a.attnum,
       format_type(a.atttypid, a.atttypmod) AS db_type,
       coalesce(et.typname, t.typname) AS base_type,
       t.typcategory AS category,
       NOT a.attnotnull AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr,
       a.attidentity <> '' AS is_identity,
       a.attgenerated <> '' AS is_generated,
       information_schema._pg_char_max_length(
           information_schema._pg_truetypid(a.*, t.*),
           information_schema._pg_truetypmod(a.*, t.*)) AS length,
       information_schema._pg_numeric_precision(
           information_schema._pg_truetypid(a.*, t.*),
           information_schema._pg_truetypmod(a.*, t.*)) AS precision,
       information_schema._pg_numeric_scale(
           information_schema._pg_truetypid(a.*, t.*),
           information_schema._pg_truetypmod(a.*, t.*)) AS scale
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname = ANY(%(schemas)s)
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY n.nspname, c.relname, a.attnum
"""

_CONSTRAINTS_SQL = """
SELECT n.nspname, c.relname, con.conname, con.contype,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[] AS columns,
       fn.nspname AS ref_schema, fc.relname AS ref_table,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.ord)::text[] AS ref_columns,
       con.confupdtype, con.confdeltype
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.contype IN ('p', 'u', 'f') AND n.nspname = ANY(%(schemas)s)
ORDER BY n.nspname, c.relname, con.conname
"""

_SCHEMAS_SQL = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND nspname !~ '^pg_(toast_)?temp_'
"""

# A fingerprint of everything introspection (and `_schema`'s extras, and the routine catalog)
# reads: relations, columns, defaults, constraints, indexes, comments and routines of the served
# schemas. Order-free (a sum of hashes), so it costs one pass and no sort; data changes, VACUUM
# and TRUNCATE leave it as it is. Services without a schema serve every user schema.
_FINGERPRINT_SQL = """
WITH rel AS MATERIALIZED (
    SELECT c.oid, c.relname, c.relkind FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i')
      AND CASE WHEN %(schema)s = '' THEN
              n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND n.nspname !~ '^pg_(toast_)?temp_'
          ELSE n.nspname = %(schema)s END
), ids AS MATERIALIZED (
    SELECT coalesce(array_agg(oid) FILTER (WHERE relkind <> 'i'), '{}') AS oids FROM rel
), parts AS (
    SELECT concat_ws('|', 'r', oid, relname, relkind,
                     CASE WHEN relkind = 'i' THEN 0
                          ELSE pg_relation_is_updatable(oid::regclass, true) END) AS x
    FROM rel
    UNION ALL
    SELECT concat_ws('|', 'a', a.attrelid, a.attname, a.attnum, a.atttypid, a.atttypmod,
                     a.attnotnull, a.attidentity, a.attgenerated)
    FROM pg_attribute a
    WHERE a.attrelid = ANY((SELECT oids FROM ids)::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT concat_ws('|', 'd', d.oid, d.adrelid, d.adnum) FROM pg_attrdef d
    WHERE d.adrelid = ANY((SELECT oids FROM ids)::oid[])
    UNION ALL
    SELECT concat_ws('|', 'c', con.oid, con.conname, con.contype, con.conkey, con.confkey)
    FROM pg_constraint con WHERE con.conrelid = ANY((SELECT oids FROM ids)::oid[])
    UNION ALL
    SELECT concat_ws('|', 'm', d.objoid, d.objsubid, md5(d.description)) FROM pg_description d
    WHERE d.objoid = ANY((SELECT oids FROM ids)::oid[]) AND d.classoid = 'pg_class'::regclass
    UNION ALL
    SELECT concat_ws('|', 'p', p.oid, p.proname, p.prokind, p.prorettype, p.proargtypes,
                     p.proallargtypes, p.proargmodes, p.proargnames, p.pronargdefaults)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE CASE WHEN %(schema)s = '' THEN
              n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              AND n.nspname !~ '^pg_(toast_)?temp_'
          ELSE n.nspname = %(schema)s END
)
SELECT count(*)::text || ':' || coalesce(sum(hashtext(x)::bigint), 0)::text FROM parts
"""

FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

_INT_TYPES = {"int2": "smallint", "int4": "integer", "int8": "bigint"}
_SIMPLE_TYPES = {
    "bool": "boolean",
    "numeric": "decimal",
    "float4": "float",
    "float8": "double",
    "money": "money",
    "text": "text",
    "varchar": "string",
    "bpchar": "string",
    "name": "string",
    "citext": "text",
    "bytea": "binary",
    "date": "date",
    "time": "time",
    "timetz": "timetz",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
}


def simple_type(
    base_type: str, category: str, *, is_pk: bool, auto: bool, is_fk: bool, single_pk: bool
) -> str:
    """DreamFactory's simple type for a column (spec §4.2)."""
    if category == "A":
        return "array"
    if base_type in _INT_TYPES:
        if is_pk and auto and single_pk:
            return {"int2": "smallid", "int4": "id", "int8": "bigid"}[base_type]
        if is_fk:
            return "reference"
        return _INT_TYPES[base_type]
    if category == "E":
        return "string"
    return _SIMPLE_TYPES.get(base_type, "string")


# pg_relation_is_updatable()'s bits (1 << CMD_UPDATE, CMD_INSERT, CMD_DELETE) -> API verbs
_UPDATABLE_BITS = ((1 << 2, PUT | PATCH), (1 << 3, POST), (1 << 4, DELETE))


def database_verbs(updatable: int) -> int:
    """The verbs the database allows on a relation: reading always; writing as PostgreSQL
    says (a view with GROUP BY, or a materialized view, takes none)."""
    verbs = GET
    for bit, verb in _UPDATABLE_BITS:
        if updatable & bit:
            verbs |= verb
    return verbs


def fingerprint(conn: psycopg.Connection[Any], schema: str) -> str:
    """What the served part of the catalog looks like now; a change means re-introspect."""
    # prepared: planning the query costs as much as running it, and it runs twice a second
    row = conn.execute(_FINGERPRINT_SQL, {"schema": schema}, prepare=True).fetchone()
    return str(row[0]) if row else ""


def served_schemas(conn: psycopg.Connection[Any], schema: str) -> tuple[list[str], str]:
    """The schemas a service serves and the one whose names go unqualified: its `schema`, or
    ("" = every user schema) all but the system ones, with `public` unqualified."""
    if schema:
        return [schema], schema
    return [r[0] for r in conn.execute(_SCHEMAS_SQL).fetchall()], "public"


def junction_relations(
    fks: list[tuple[str, str, str, tuple[str, ...], str, str, tuple[str, ...], str, str]],
    api_name: Any,
) -> dict[tuple[str, str], list[Relation]]:
    """many_many relations (spec §3.12): every table holding foreign keys to two tables joins
    them, each side getting `{far_table}_by_{junction}` (DF's rule: any two keys qualify)."""
    by_table: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for fk in fks:
        by_table[(fk[0], fk[1])].append(fk)
    out: dict[tuple[str, str], list[Relation]] = defaultdict(list)
    for (nsp, rel), keys in by_table.items():
        junction = api_name(nsp, rel)
        for near in keys:
            for far in keys:
                if (
                    far is near
                    or (near[4], near[5]) == (nsp, rel)
                    or (far[4], far[5]) == (nsp, rel)
                ):
                    continue
                far_table = api_name(far[4], far[5])
                out[(near[4], near[5])].append(
                    Relation(
                        name=f"{far_table}_by_{junction}",
                        type="many_many",
                        fields=near[6],
                        ref_table=far_table,
                        ref_fields=far[6],
                        constraint=far[2],
                        on_update=FK_ACTIONS.get(far[7]),
                        on_delete=FK_ACTIONS.get(far[8]),
                        junction_table=junction,
                        junction_fields=near[3],
                        junction_ref_fields=far[3],
                    )
                )
    return out


def introspect(conn: psycopg.Connection[Any], schema: str) -> SchemaCache:
    """Build the SchemaCache for `schema` ("" = every user schema) over one connection."""
    schemas, default_schema = served_schemas(conn, schema)
    version = conn.info.server_version
    params = {"schemas": schemas}

    def api_name(nsp: str, rel: str) -> str:
        return rel if nsp == default_schema else f"{nsp}.{rel}"

    tables_raw = conn.execute(_TABLES_SQL, params).fetchall()
    columns_raw = conn.execute(_COLUMNS_SQL, params).fetchall()
    constraints_raw = conn.execute(_CONSTRAINTS_SQL, params).fetchall()

    pks: dict[tuple[str, str], tuple[str, ...]] = {}
    uniques: dict[tuple[str, str], list[tuple[str, ...]]] = defaultdict(list)
    fks: list[tuple[str, str, str, tuple[str, ...], str, str, tuple[str, ...], str, str]] = []
    for nsp, rel, conname, contype, cols, rnsp, rrel, rcols, upd, dele in constraints_raw:
        key = (nsp, rel)
        if contype == "p":
            pks[key] = tuple(cols)
        elif contype == "u":
            uniques[key].append(tuple(cols))
        elif contype == "f" and rnsp in schemas:
            fks.append((nsp, rel, conname, tuple(cols), rnsp, rrel, tuple(rcols), upd, dele))

    fk_columns: set[tuple[str, str, str]] = set()
    for nsp, rel, _c, cols, *_rest in fks:
        if len(cols) == 1:
            fk_columns.add((nsp, rel, cols[0]))

    cols_by_table: dict[tuple[str, str], list[Column]] = defaultdict(list)
    for row in columns_raw:
        (nsp, rel, att, num, db_type, base, cat, nullable, default, ident, gen, ln, prec, sc) = row
        key = (nsp, rel)
        pk = pks.get(key, ())
        auto = bool(ident) or bool(default and default.startswith("nextval("))
        is_pk = att in pk
        cols_by_table[key].append(
            Column(
                name=att,
                position=num,
                db_type=db_type,
                base_type=base,
                category=cat,
                nullable=bool(nullable) and not is_pk,
                default=default,
                is_primary_key=is_pk,
                auto_increment=auto,
                is_generated=bool(gen),
                is_unique=(att,) in uniques.get(key, ()) or pk == (att,),
                length=ln,
                precision=prec,
                scale=sc,
                simple_type=simple_type(
                    base,
                    cat,
                    is_pk=is_pk,
                    auto=auto,
                    is_fk=(nsp, rel, att) in fk_columns,
                    single_pk=len(pk) == 1,
                ),
            )
        )

    relations: dict[tuple[str, str], list[Relation]] = defaultdict(list)
    for nsp, rel, conname, cols, rnsp, rrel, rcols, upd, dele in fks:
        parent = api_name(rnsp, rrel)
        child = api_name(nsp, rel)
        relations[(nsp, rel)].append(
            Relation(
                name=f"{parent}_by_{'_'.join(cols)}",
                type="belongs_to",
                fields=cols,
                ref_table=parent,
                ref_fields=rcols,
                constraint=conname,
                on_update=FK_ACTIONS.get(upd),
                on_delete=FK_ACTIONS.get(dele),
            )
        )
        child_unique = cols == pks.get((nsp, rel)) or cols in uniques.get((nsp, rel), ())
        relations[(rnsp, rrel)].append(
            Relation(
                name=f"{child}_by_{'_'.join(cols)}",
                type="has_one" if child_unique else "has_many",
                fields=rcols,
                ref_table=child,
                ref_fields=cols,
                constraint=conname,
                on_update=FK_ACTIONS.get(upd),
                on_delete=FK_ACTIONS.get(dele),
            )
        )

    for owner, found in junction_relations(fks, api_name).items():
        taken = {r.name.lower() for r in relations[owner]}
        for relation in found:
            if relation.name.lower() not in taken:  # the first of two same-named ones wins
                taken.add(relation.name.lower())
                relations[owner].append(relation)

    tables: dict[str, Table] = {}
    for nsp, rel, is_view, updatable in tables_raw:
        name = api_name(nsp, rel)
        tables[name.lower()] = Table(
            name=name,
            schema=nsp,
            db_name=rel,
            is_view=bool(is_view),
            verbs=database_verbs(updatable or 0),
            columns=tuple(cols_by_table.get((nsp, rel), ())),
            primary_key=pks.get((nsp, rel), ()),
            relations=tuple(sorted(relations.get((nsp, rel), ()), key=lambda r: r.name)),
        )
    return SchemaCache(tables=tables, server_version=version)
