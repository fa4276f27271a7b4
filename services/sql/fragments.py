"""Tiny functions returning psycopg.sql pieces: names, output expressions, WHERE, ORDER BY.

Identifiers only ever come from resolved schema-cache objects and are quoted by sql.Identifier;
every value is appended to `params` and stands as a placeholder. The SQL keywords here are ours.
"""

from __future__ import annotations

import functools
from typing import Any

from psycopg import sql

from services.catalog.schema_cache import Column, Table
from services.plan.filter_ast import JsonPath
from services.plan.types import (
    BoundAggregate,
    BoundCondition,
    BoundExists,
    BoundNode,
    BoundOrder,
    BoundOutput,
    BoundRelated,
)

_COMPARISON = {op: sql.SQL(op) for op in ("=", "!=", ">", ">=", "<", "<=")}
_TEXTUAL = frozenset({"text", "varchar", "bpchar", "name", "citext"})
_ALIAS = sql.Identifier("_t")
_PATTERN_NEGATED = frozenset({"not like", "not contains", "not starts with", "not ends with"})


@functools.lru_cache(maxsize=8192)  # names repeat; composing one costs more than the lookup
def ident(*names: str) -> sql.Identifier:
    """A quoted name in a statement that runs with bound parameters (every statement built
    here does, even with none): psycopg reads `%` as a placeholder even inside quotes, so it is
    doubled, and the server sees the name as it is."""
    return sql.Identifier(*(n.replace("%", "%%") for n in names))


def qualified(table: Table) -> sql.Composable:
    return ident(table.schema, table.db_name)


def column_ref(column: Column, alias: sql.Composable = _ALIAS) -> sql.Composable:
    return sql.Composed([alias, sql.SQL("."), ident(column.name)])


def output_expr(column: Column, alias: sql.Composable = _ALIAS) -> sql.Composable:
    """How a column is read for JSON output: bytea as base64, money as an exact number."""
    ref = column_ref(column, alias)
    if column.base_type == "bytea" and not column.is_array:
        return sql.SQL("translate(encode({}, 'base64'), chr(10), '')").format(ref)
    if column.base_type == "money" and not column.is_array:
        return sql.SQL("{}::numeric").format(ref)
    return ref


def select_list(
    columns: tuple[Column, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    return [sql.SQL("{} AS {}").format(output_expr(c, alias), ident(c.name)) for c in columns]


def output_list(
    outputs: tuple[BoundOutput, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    """Named outputs (a PostgREST select): `_t.col::type AS name`; the type name is quoted
    (the dialect's parser admits only plain names, with `[]` for arrays)."""
    items: list[sql.Composable] = []
    for out in outputs:
        expr = output_expr(out.column, alias)
        if out.path is not None:
            expr = json_ref(out.column, out.path, alias)
        if out.cast:
            base, brackets = out.cast.removesuffix("[]"), out.cast.endswith("[]")
            kind = sql.SQL("{}[]").format(ident(base)) if brackets else ident(base)
            ref = column_ref(out.column, alias) if out.path is None else expr
            expr = sql.SQL("{}::{}").format(ref, kind)
        items.append(sql.SQL("{} AS {}").format(expr, ident(out.name)))
    return items


def outputs_shape(outputs: tuple[BoundOutput, ...]) -> tuple[Any, ...]:
    return tuple((o.column.name, o.name, o.cast, o.path) for o in outputs)


# the only aggregate SQL we ever write: the request picks a key, never the text
_AGGREGATE_SQL = {
    "sum": sql.SQL("sum"),
    "count": sql.SQL("count"),
    "avg": sql.SQL("avg"),
    "min": sql.SQL("min"),
    "max": sql.SQL("max"),
}


def aggregate_expr(agg: BoundAggregate, alias: sql.Composable = _ALIAS) -> sql.Composable:
    """`sum(_t.total)`, `count(*)`; money is summed as numeric so JSON gets a number."""
    function = _AGGREGATE_SQL[agg.function]
    if agg.column is None:
        return sql.SQL("{}(*)").format(function)
    ref = column_ref(agg.column, alias)
    if agg.column.base_type == "money" and not agg.column.is_array:
        ref = sql.SQL("{}::numeric").format(ref)
    return sql.SQL("{}({})").format(function, ref)


def aggregate_list(
    aggregates: tuple[BoundAggregate, ...], alias: sql.Composable = _ALIAS
) -> list[sql.Composable]:
    return [sql.SQL("{} AS {}").format(aggregate_expr(a, alias), ident(a.name)) for a in aggregates]


def group_by(group: tuple[Column, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    if not group:
        return sql.SQL("")
    return sql.SQL(" GROUP BY {}").format(sql.SQL(", ").join(column_ref(c, alias) for c in group))


def record_json(columns: tuple[Column, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    """A scalar expression: the row's chosen columns as JSON text (usable in RETURNING)."""
    return sql.SQL("(SELECT row_to_json(_x) FROM (SELECT {}) AS _x)::text").format(
        sql.SQL(", ").join(select_list(columns, alias))
    )


def checked_returning(
    columns: tuple[Column, ...], check: BoundNode | None, params: list[Any]
) -> sql.Composable:
    """A write's RETURNING list: the output JSON, then (with a role's row filter as `check`)
    whether the row as written satisfies the filter (a write may not leave it, spec §8.4)."""
    if check is None:
        return record_json(columns)
    return sql.SQL("{}, coalesce({}, false)").format(
        record_json(columns), where_expr(check, params)
    )


def _text_ref(column: Column, alias: sql.Composable) -> sql.Composable:
    ref = column_ref(column, alias)
    if column.base_type in _TEXTUAL and not column.is_array:
        return ref
    return sql.SQL("{}::text").format(ref)


_NO_VALUE_OPS = frozenset(
    {"is null", "is not null", "is true", "is not true", "is false", "is not false"}
)
_TRUTH = {op: sql.SQL(op.upper()) for op in ("is true", "is not true", "is false", "is not false")}
_MANY_VALUE_OPS = frozenset({"in", "not in", "all", "between", "not between"})


# the PostgREST dialect's own operators (filter_ast.PGRST_OPS; bind checked the column types)
_REGEX = {"match": sql.SQL("~"), "imatch": sql.SQL("~*")}
_SET_OPS = {
    "cs": sql.SQL("@>"),
    "cd": sql.SQL("<@"),
    "ov": sql.SQL("&&"),
    "sl": sql.SQL("<<"),
    "sr": sql.SQL(">>"),
    "nxr": sql.SQL("&<"),
    "nxl": sql.SQL("&>"),
    "adj": sql.SQL("-|-"),
}
_TS_QUERY = {
    "fts": sql.SQL("to_tsquery"),
    "plfts": sql.SQL("plainto_tsquery"),
    "phfts": sql.SQL("phraseto_tsquery"),
    "wfts": sql.SQL("websearch_to_tsquery"),
}
# the language given (bound; NULL: the server's default_text_search_config)
_TS_CONFIG = sql.SQL("coalesce(%s::regconfig, get_current_ts_config())")


def _fts(cond: BoundCondition, alias: sql.Composable) -> sql.Composable:
    """`doc @@ to_tsquery(config, query)`; a text column is made a tsvector in that config."""
    doc = column_ref(cond.column, alias)
    if cond.column.base_type != "tsvector":
        doc = sql.SQL("to_tsvector({}, {})").format(_TS_CONFIG, doc)
    return sql.SQL("{} @@ {}({}, %s)").format(doc, _TS_QUERY[cond.op], _TS_CONFIG)


def condition_params(cond: BoundCondition) -> list[Any]:
    """The bound values one condition contributes, in placeholder order."""
    if cond.op in _NO_VALUE_OPS:
        return []
    if cond.op in _TS_QUERY:  # (language, query); a text column names the language twice
        language, query = cond.value
        if cond.column.base_type != "tsvector":
            return [language, language, query]
        return [language, query]
    if cond.op in _MANY_VALUE_OPS:
        return list(cond.value)
    return [cond.value]


def where_params(node: BoundNode | None) -> list[Any]:
    """Every value of a filter in the order where_expr() places its placeholders."""
    if node is None:
        return []
    if isinstance(node, BoundCondition):
        return condition_params(node)
    if isinstance(node, BoundExists):  # the junction's row filter, then the related table's
        rel = node.related
        return where_params(rel.junction_where if rel.junction else None) + where_params(rel.where)
    return [v for item in node.items for v in where_params(item)]


def where_shape(node: BoundNode | None) -> tuple[Any, ...] | None:
    """What decides a filter's SQL text (columns, operators, list lengths), not its values."""
    if node is None:
        return None
    if isinstance(node, BoundCondition):
        count = len(node.value) if node.op in _MANY_VALUE_OPS else 0
        return (node.column.name, node.column.base_type, node.op, count, node.path)
    if isinstance(node, BoundExists):
        rel = node.related
        return (
            "exists",
            rel.relation.name,
            id(node.parent),
            id(rel.table),
            node.alias,
            where_shape(rel.junction_where if rel.junction else None),
            where_shape(rel.where),
        )
    return (node.op, *(where_shape(i) for i in node.items))


def json_ref(
    column: Column, path: JsonPath, alias: sql.Composable = _ALIAS, as_jsonb: bool = False
) -> sql.Composable:
    """`_t.col -> 'a' ->> 'b'`: a value inside a json/jsonb column (the keys are quoted as
    literals, an all-digit key is an array index); `as_jsonb`: a json value made jsonb (json
    has no comparison operators)."""
    expr: sql.Composable = column_ref(column, alias)
    for n, key in enumerate(path.keys):
        arrow = sql.SQL("->>" if path.as_text and n == len(path.keys) - 1 else "->")
        step = sql.Literal(int(key)) if key.isdigit() else sql.Literal(key.replace("%", "%%"))
        expr = sql.SQL("{} {} {}").format(expr, arrow, step)
    if as_jsonb and not path.as_text:
        return sql.SQL("({})::jsonb").format(expr)
    return sql.SQL("({})").format(expr)


def _path_condition(
    cond: BoundCondition, params: list[Any], alias: sql.Composable
) -> sql.Composable:
    """A condition on a value inside a JSON column: text (`->>`) or jsonb (`->`) compared;
    bind admits only these operators (bind_names.PATH_OPS)."""
    if cond.path is None:
        raise TypeError("a path condition has a path")
    op, ref = cond.op, json_ref(cond.column, cond.path, alias, as_jsonb=True)
    text = ref if cond.path.as_text else sql.SQL("{}::text").format(ref)
    params.extend(condition_params(cond))
    if op in _COMPARISON:
        return sql.SQL("{} {} %s").format(ref, _COMPARISON[op])
    if op in ("is null", "is not null"):
        return sql.SQL("{} {}").format(ref, sql.SQL(op.upper()))
    if op in ("in", "not in"):
        placeholders = sql.SQL(", ").join(sql.Placeholder() * len(cond.value))
        keyword = sql.SQL("NOT IN") if op == "not in" else sql.SQL("IN")
        return sql.SQL("{} {} ({})").format(ref, keyword, placeholders)
    if op == "isdistinct":
        return sql.SQL("{} IS DISTINCT FROM %s").format(ref)
    keywords = {
        "like": "LIKE",
        "not like": "NOT LIKE",
        "ilike": "ILIKE",
        "not ilike": "NOT ILIKE",
        "match": "~",
        "imatch": "~*",
    }
    return sql.SQL("{} {} %s").format(text, sql.SQL(keywords[op]))


def _condition(cond: BoundCondition, params: list[Any], alias: sql.Composable) -> sql.Composable:
    if cond.path is not None:
        return _path_condition(cond, params, alias)
    op = cond.op
    ref = column_ref(cond.column, alias)
    params.extend(condition_params(cond))
    if op in _COMPARISON:
        return sql.SQL("{} {} %s").format(ref, _COMPARISON[op])
    if op == "is null":
        return sql.SQL("{} IS NULL").format(ref)
    if op == "is not null":
        return sql.SQL("{} IS NOT NULL").format(ref)
    if op in _TRUTH:
        return sql.SQL("{} {}").format(ref, _TRUTH[op])
    if op in ("ilike", "not ilike"):
        keyword = sql.SQL("NOT ILIKE") if op == "not ilike" else sql.SQL("ILIKE")
        return sql.SQL("{} {} %s").format(_text_ref(cond.column, alias), keyword)
    if op in _REGEX:
        return sql.SQL("{} {} %s").format(_text_ref(cond.column, alias), _REGEX[op])
    if op in _SET_OPS:
        return sql.SQL("{} {} %s").format(ref, _SET_OPS[op])
    if op == "isdistinct":
        return sql.SQL("{} IS DISTINCT FROM %s").format(ref)
    if op in _TS_QUERY:
        return _fts(cond, alias)
    if op in ("in", "not in"):
        placeholders = sql.SQL(", ").join(sql.Placeholder() * len(cond.value))
        keyword = sql.SQL("NOT IN") if op == "not in" else sql.SQL("IN")
        return sql.SQL("{} {} ({})").format(ref, keyword, placeholders)
    if op == "all":
        parts = [sql.SQL("{} = %s").format(ref) for _ in cond.value]
        return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))
    if op in ("between", "not between"):
        keyword = sql.SQL("NOT BETWEEN") if op == "not between" else sql.SQL("BETWEEN")
        return sql.SQL("{} {} %s AND %s").format(ref, keyword)
    # like and the pattern word forms (values already wrapped and escaped by bind)
    keyword = sql.SQL("NOT LIKE") if op in _PATTERN_NEGATED else sql.SQL("LIKE")
    return sql.SQL("{} {} %s").format(_text_ref(cond.column, alias), keyword)


def where_expr(
    node: BoundNode, params: list[Any], alias: sql.Composable = _ALIAS
) -> sql.Composable:
    """The boolean expression for a bound filter; values go to `params` in order."""
    if isinstance(node, BoundCondition):
        return _condition(node, params, alias)
    if isinstance(node, BoundExists):
        return _exists(node, params, alias)
    if node.op == "not":
        return sql.SQL("NOT ({})").format(where_expr(node.items[0], params, alias))
    joiner = sql.SQL(" AND ") if node.op == "and" else sql.SQL(" OR ")
    return sql.SQL("({})").format(joiner.join(where_expr(i, params, alias) for i in node.items))


def where_clause(
    node: BoundNode | None, params: list[Any], alias: sql.Composable = _ALIAS
) -> sql.Composable:
    if node is None:
        return sql.SQL("")
    return sql.SQL(" WHERE {}").format(where_expr(node, params, alias))


def key_match(
    keys: tuple[Column, ...],
    values: tuple[Any, ...],
    params: list[Any],
    alias: sql.Composable = _ALIAS,
) -> sql.Composable:
    """`k1 = %s AND k2 = %s` for one identifier."""
    params.extend(values)
    return sql.SQL(" AND ").join(sql.SQL("{} = %s").format(column_ref(k, alias)) for k in keys)


def order_by(order: tuple[BoundOrder, ...], alias: sql.Composable = _ALIAS) -> sql.Composable:
    if not order:
        return sql.SQL("")
    items = []
    for item in order:
        term = (
            aggregate_expr(item.column, alias)
            if isinstance(item.column, BoundAggregate)
            else column_ref(item.column, alias)
            if item.path is None
            else json_ref(item.column, item.path, alias, as_jsonb=True)
        )
        part = sql.SQL("{} {}").format(term, sql.SQL("DESC" if item.descending else "ASC"))
        if item.nulls:
            part = sql.SQL("{} {}").format(
                part, sql.SQL("NULLS FIRST" if item.nulls == "first" else "NULLS LAST")
            )
        items.append(part)
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(items))


# --- related rows: how a related table's row is matched to its parent's ----------------------


def key_pairs(
    left: Table,
    left_fields: tuple[str, ...],
    left_alias: sql.Composable,
    right: Table,
    right_fields: tuple[str, ...],
    right_alias: sql.Composable,
) -> sql.Composable:
    """`l.a = r.x AND l.b = r.y`: the columns of a key matched pairwise."""
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(
            column_ref(left.column(lf), left_alias), column_ref(right.column(rf), right_alias)
        )
        for lf, rf in zip(left_fields, right_fields, strict=True)
    )


def related_match(
    parent: Table,
    parent_alias: sql.Composable,
    rel: BoundRelated,
    alias: sql.Composable,
    link: sql.Composable,
    params: list[Any],
) -> sql.Composable:
    """The related row (as `alias`) belongs to the parent row: its key matches, or for a
    many_many a junction row (as `link`, under the caller's junction filter) links the two.
    Each far row counts once however often it is linked (DF reads the far rows by key)."""
    relation = rel.relation
    if rel.junction is None:
        return key_pairs(
            rel.table, relation.ref_fields, alias, parent, relation.fields, parent_alias
        )
    junction = rel.junction
    cond = sql.SQL("{} AND {}").format(
        key_pairs(junction, relation.junction_fields, link, parent, relation.fields, parent_alias),
        key_pairs(
            junction, relation.junction_ref_fields, link, rel.table, relation.ref_fields, alias
        ),
    )
    if rel.junction_where is not None:
        cond = sql.SQL("{} AND {}").format(cond, where_expr(rel.junction_where, params, link))
    return sql.SQL("EXISTS (SELECT 1 FROM {tbl} AS {link} WHERE {cond})").format(
        tbl=qualified(junction), link=link, cond=cond
    )


def _exists(node: BoundExists, params: list[Any], parent_alias: sql.Composable) -> sql.Composable:
    """The parent row has a related row that passes the related filters (`!inner`)."""
    rel = node.related
    alias, link = ident(node.alias), ident(f"{node.alias}_j")
    cond = related_match(node.parent, parent_alias, rel, alias, link, params)
    if rel.where is not None:
        cond = sql.SQL("{} AND {}").format(cond, where_expr(rel.where, params, alias))
    return sql.SQL("EXISTS (SELECT 1 FROM {tbl} AS {alias} WHERE {cond})").format(
        tbl=qualified(rel.table), alias=alias, cond=cond
    )
