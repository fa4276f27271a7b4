"""Bind PostgREST's embedded resources: EmbedRequests x SchemaCache -> BoundRelated.

An embedding names the related table (or, with a `!hint`, which of several relationships to
it); it becomes the same BoundRelated `/api/v2`'s `related=` reads through, with PostgREST's
extras (output key, nested embeddings, filters, offset, spread). `!inner` also becomes a
BoundExists condition on the parent rows. Embedded tables pass the caller's RelatedGuard:
their row filter applies, and a table the caller may not read is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Relation, SchemaCache, Table
from services.plan.bind_names import bind_filter, bind_order, check_json_path, conjunction
from services.plan.types import (
    BoundExists,
    BoundNode,
    BoundOutput,
    BoundRelated,
    EmbedRequest,
    SelectItem,
)

# the caller's row filter on a table (None: every row), or a refusal raised (bind_read's)
Guard = Callable[[Table], BoundNode | None]
_TO_ONE = frozenset({"belongs_to", "has_one"})


class AmbiguousEmbedding(GatewayError):
    """PGRST201: more than one relationship fits; PostgREST answers 300 Multiple Choices."""

    status = 300


def bind_outputs(table: Table, select: tuple[SelectItem, ...]) -> tuple[BoundOutput, ...]:
    """A PostgREST select in its order; `*` stands for every column (unknown names: 400)."""
    out: list[BoundOutput] = []
    for item in select:
        if item.field == "*":
            out += [BoundOutput(c, c.name) for c in table.columns]
            continue
        column = table.column(item.field)
        if item.path is not None:
            check_json_path(column)  # a path's output is named by its last key
        name = item.alias or (item.path.keys[-1] if item.path else column.name)
        out.append(BoundOutput(column, name, item.cast, item.path))
    return tuple(out)


def bind_embeds(
    schema: SchemaCache,
    table: Table,
    embeds: tuple[EmbedRequest, ...],
    max_records: int,
    guard: Guard | None,
    depth: int = 0,
) -> tuple[tuple[BoundRelated, ...], tuple[BoundNode, ...]]:
    """The embeddings to output, and the `!inner` conditions on `table`'s rows."""
    related: list[BoundRelated] = []
    exists: list[BoundNode] = []
    for embed in embeds:
        relation = resolve_relation(schema, table, embed)
        other = schema.table(relation.ref_table)
        junction = schema.table(relation.junction_table) if relation.junction_table else None
        where = junction_where = None
        if guard is not None:  # a refusal propagates, as for /api/v2's related=
            where = guard(other)
            junction_where = guard(junction) if junction is not None else None
        if embed.spread and relation.type not in _TO_ONE:
            raise BadRequest(
                f"A spread operation on '{embed.name}' is not possible",
                context={
                    "pgrst": "PGRST119",
                    "details": f"'{table.name}' and '{embed.name}' do not form a many-to-one"
                    " or one-to-one relationship",
                },
            )
        if embed.spread and embed.embeds:
            raise BadRequest(
                f"failed to parse select parameter (...{embed.name})",
                context={
                    "pgrst": "PGRST100",
                    "details": "embedding inside a spread is not supported by this gateway yet",
                },
            )
        nested, nested_exists = bind_embeds(
            schema, other, embed.embeds, max_records, guard, depth + 1
        )
        client = bind_filter(embed.filter, other) if embed.filter is not None else None
        limit = embed.limit if embed.limit is not None and embed.limit <= max_records else None
        bound = BoundRelated(
            relation=relation,
            table=other,
            columns=(),
            limit=max_records if limit is None else limit,
            order=bind_order(other, embed.order),
            where=conjunction(where, client, *nested_exists),
            junction=junction,
            junction_where=junction_where,
            name=embed.key,
            outputs=bind_outputs(other, embed.select),
            nested=nested,
            offset=embed.offset,
            spread=embed.spread,
        )
        if embed.inner:
            exists.append(BoundExists(table, bound, f"_x{depth}"))
        if embed.select or embed.embeds:  # `rel()` filters (with !inner) and is not output
            related.append(bound)
    return tuple(related), tuple(exists)


def resolve_relation(schema: SchemaCache, table: Table, embed: EmbedRequest) -> Relation:
    """The one relationship of `table` the embedding names: by the related table's name (or
    a foreign key's column or constraint), narrowed by the hint; none is PGRST200 (400),
    several are PGRST201 (300)."""
    name = embed.name.lower()
    found = [r for r in table.relations if r.ref_table.lower() == name]
    if not found:  # `customer_id(...)` or `orders_customer_id_fkey(...)`: by the key
        found = [
            r
            for r in table.relations
            if r.type in _TO_ONE and (r.constraint.lower() == name or r.fields == (embed.name,))
        ]
    if embed.hint is not None:
        found = [r for r in found if _fits(r, embed.hint)]
    if not found:
        raise BadRequest(
            f"Could not find a relationship between '{table.name}' and '{embed.name}'"
            " in the schema cache",
            context={
                "pgrst": "PGRST200",
                "details": f"Searched for a foreign key relationship between '{table.name}'"
                f" and '{embed.name}'"
                + (f" using the hint '{embed.hint}'" if embed.hint else "")
                + ", but no matches were found.",
            },
        )
    if len(found) > 1:
        raise AmbiguousEmbedding(
            f"Could not embed because more than one relationship was found for"
            f" '{table.name}' and '{embed.name}'",
            context={
                "pgrst": "PGRST201",
                "details": [_describe(table, r) for r in found],
                "hint": f"Try changing '{embed.name}' to one of the following: "
                + ", ".join(f"'{embed.name}!{_hint_of(r)}'" for r in found)
                + ". Find the desired relationship in the 'details' key.",
            },
        )
    return found[0]


def _fits(relation: Relation, hint: str) -> bool:
    names = {relation.constraint, *relation.fields, *relation.ref_fields}
    if relation.junction_table:
        names = {relation.junction_table, relation.junction_table.rsplit(".", 1)[-1]}
    return hint in names


def _hint_of(relation: Relation) -> str:
    return relation.junction_table or relation.constraint


_CARDINALITY = {
    "belongs_to": "many-to-one",
    "has_one": "one-to-one",
    "has_many": "one-to-many",
    "many_many": "many-to-many",
}


def _describe(table: Table, relation: Relation) -> dict[str, str]:
    return {
        "cardinality": _CARDINALITY.get(relation.type, relation.type),
        "embedding": f"{table.name} with {relation.ref_table}",
        "relationship": f"{_hint_of(relation)} using {table.name}({', '.join(relation.fields)})"
        f" and {relation.ref_table}({', '.join(relation.ref_fields)})",
    }
