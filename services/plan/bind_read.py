"""Bind stage for reads: TableRead x SchemaCache -> BoundRead (relationships, keys, groups).

The limit is capped by the service's max_records; embedded tables go through the caller's
RelatedGuard (their row filter, or a refusal).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Column, SchemaCache, Table
from services.config import ServiceConfig
from services.plan.bind_having import bind_having
from services.plan.bind_names import (
    bind_columns,
    bind_filter,
    bind_order,
    coerce_key,
    conjunction,
    key_label,
    key_tuple,
    record_key,
)
from services.plan.parse_table import parse_aggregate
from services.plan.pgrst_embed_bind import bind_embeds, bind_outputs
from services.plan.types import (
    ALL_FIELDS,
    AggregateRequest,
    BoundAggregate,
    BoundNode,
    BoundOrder,
    BoundRead,
    BoundRelated,
    OrderItem,
    RelatedRequest,
    TableRead,
)

# The caller's access to an embedded table: its row filter (None: every row), or a refusal
# raised as a GatewayError. None for admins (everything, unfiltered).
RelatedGuard = Callable[[Table], BoundNode | None]


def bind_related(
    schema: SchemaCache,
    table: Table,
    related: tuple[RelatedRequest, ...],
    max_records: int,
    guard: RelatedGuard | None = None,
) -> tuple[BoundRelated, ...]:
    """Resolve `related`; `*` means every relationship the caller may read, while a named one
    the caller may not read is refused (spec §3.12), never silently dropped."""
    every = bool(related) and related[0].name == "*"
    if every:
        options = {r.name.lower(): r for r in related[1:]}
        related = tuple(
            options.get(r.name.lower(), RelatedRequest(r.name)) for r in table.relations
        )
    out = []
    for req in related:
        relation = table.relation(req.name)
        other = schema.table(relation.ref_table)
        junction = schema.table(relation.junction_table) if relation.junction_table else None
        where = junction_where = None
        if guard is not None:
            try:
                where = guard(other)
                if junction is not None:  # the links are read too (DF reads them through the API)
                    junction_where = guard(junction)
            except GatewayError as exc:
                if every and exc.status in (401, 403):  # `*`: only what the caller may read
                    continue
                raise
        limit = req.limit if req.limit and 0 < req.limit <= max_records else max_records
        out.append(
            BoundRelated(
                relation=relation,
                table=other,
                columns=bind_columns(other, req.fields, other.columns),
                limit=limit,
                order=bind_order(other, req.order),
                where=where,
                junction=junction,
                junction_where=junction_where,
            )
        )
    return tuple(out)


def _with_key_columns(
    columns: tuple[Column, ...], needed: tuple[Column, ...]
) -> tuple[Column, ...]:
    names = {c.name for c in columns} | {c.name for c in needed}
    return tuple(
        c for c in sorted(set(columns) | set(needed), key=lambda c: c.position) if c.name in names
    )


def bind_read(
    plan: TableRead,
    schema: SchemaCache,
    config: ServiceConfig,
    related_guard: RelatedGuard | None = None,
) -> BoundRead:
    """Resolve a TableRead; the limit is capped by the service's max_records."""
    table = schema.table(plan.table)
    max_records = config.effective_max_records
    where = bind_filter(plan.filter, table) if plan.filter is not None else None
    valid_limit = plan.limit is not None and 0 < plan.limit <= max_records
    limit = plan.limit if valid_limit and plan.limit is not None else max_records
    if plan.group:
        return _bind_grouped(plan, table, where, limit, valid_limit)
    columns = bind_columns(table, plan.fields, table.columns)
    outputs = bind_outputs(table, plan.select) if plan.select is not None else ()
    if plan.select is not None:  # a PostgREST select (it may name embeddings only)
        columns = tuple(dict.fromkeys(o.column for o in outputs))
    related = bind_related(schema, table, plan.related, max_records, related_guard)
    if related:
        needed = tuple(table.column(f) for r in related for f in r.relation.fields)
        columns = _with_key_columns(columns, needed)
    if plan.embeds:  # PostgREST's embedding: more related reads, `!inner` conditions
        embedded, inner = bind_embeds(schema, table, plan.embeds, max_records, related_guard)
        related += embedded
        where = conjunction(where, *inner)
    common: dict[str, Any] = {
        "table": table,
        "columns": columns,
        "order": bind_order(table, plan.order),
        "related": related,
        "as_list": plan.as_list,
        "outputs": outputs,
    }
    if plan.record_id is not None or plan.ids is not None or plan.records:
        keys = table.key_columns(plan.id_field)
        if plan.record_id is not None:
            raw_ids: tuple[Any, ...] = (plan.record_id,)
        elif plan.ids is not None:
            raw_ids = plan.ids
        else:
            raw_ids = tuple(record_key(keys, r, i) for i, r in enumerate(plan.records or ()))
        key_values = tuple(
            key_tuple(keys, r) if not isinstance(r, tuple) else coerce_key(keys, r) for r in raw_ids
        )
        if plan.as_list:
            common["columns"] = _with_key_columns(columns, keys)
        return BoundRead(
            where=where,
            limit=max_records,
            offset=0,
            count=False,
            probe_more=False,
            count_only=False,
            keys=keys,
            key_values=key_values,
            key_labels=tuple(key_label(r) for r in raw_ids),
            single=plan.record_id is not None,
            continue_on_error=plan.continue_on_error,
            **common,
        )
    keys = table.key_columns(plan.id_field) if plan.as_list else ()
    if keys:  # as_list answers the identifiers, whatever `fields` selects (spec §3.2)
        common["columns"] = _with_key_columns(columns, keys)
    return BoundRead(
        where=where,
        limit=limit,
        offset=plan.offset,
        count=plan.include_count or plan.count_only,
        probe_more=not valid_limit and not (plan.include_count or plan.count_only),
        count_only=plan.count_only,
        keys=keys,
        include_schema=plan.include_schema,
        stream=plan.stream,
        requested_limit=plan.limit,
        **common,
    )


# SUM and AVG need numbers; MIN, MAX and COUNT work on any comparable column
_NUMERIC_TYPES = frozenset({"int2", "int4", "int8", "numeric", "float4", "float8", "money"})


def bind_aggregate(table: Table, req: AggregateRequest) -> BoundAggregate:
    """Resolve `FUNC(field)`: the field must be a real column (COUNT(*) has none)."""
    if req.field is None:
        return BoundAggregate("count", None)
    label = f"{req.function.upper()}({req.field})"
    column = table.find_column(req.field)
    if column is None:
        raise BadRequest(f"Invalid field requested: {label}", context={"param": "fields"})
    if req.function in ("sum", "avg") and (
        column.is_array or column.base_type not in _NUMERIC_TYPES
    ):
        raise BadRequest(
            f"Invalid field requested: {label}; {req.function.upper()} needs a numeric field.",
            context={"param": "fields"},
        )
    return BoundAggregate(req.function, column)


def _grouped_order(
    table: Table,
    order: tuple[OrderItem, ...],
    group: tuple[Column, ...],
    aggregates: tuple[BoundAggregate, ...],
) -> tuple[BoundOrder, ...]:
    """Order terms of a grouped read: group columns, aggregate output names or `FUNC(f)`."""
    by_name = {a.name.lower(): a for a in aggregates}
    out = []
    for item in order:
        term: Column | BoundAggregate | None = table.find_column(item.field)
        if term is None or term not in group:
            term = by_name.get(item.field.lower())
        if term is None:
            req = parse_aggregate(item.field)
            term = bind_aggregate(table, req) if req is not None else None
        if term is None:
            raise BadRequest(f"Invalid field '{item.field}' in order by clause.")
        out.append(BoundOrder(term, item.descending, item.nulls))
    return tuple(out)


def _bind_grouped(
    plan: TableRead, table: Table, where: BoundNode | None, limit: int, valid_limit: bool
) -> BoundRead:
    """A GROUP BY read: every plain field must be grouped; aggregates are resolved pairs."""
    for given, what in ((plan.related, "related"), (plan.as_list, "as_list")):
        if given:
            raise BadRequest(f"'group' can not be combined with '{what}'.", context={"param": what})
    if plan.record_id is not None or plan.ids is not None or plan.records:
        raise BadRequest("'group' can not be combined with ids or records.")
    group: list[Column] = []
    for name in plan.group or ():
        column = table.find_column(name)
        if column is None:
            raise BadRequest(
                f"Invalid or unknown field '{name}' in group by clause.", context={"param": "group"}
            )
        if column not in group:
            group.append(column)
    grouped = tuple(group)
    # no fields (or `*`): the group columns, in table order like every other read
    columns = bind_columns(
        table,
        None if plan.fields == ALL_FIELDS else plan.fields,
        tuple(c for c in table.columns if c in group),
    )
    for column in columns:
        if column not in grouped:
            raise BadRequest(
                f"Field '{column.name}' must appear in the group by clause or be used in an"
                " aggregate function.",
                context={"param": "fields"},
            )
    aggregates = tuple(dict.fromkeys(bind_aggregate(table, a) for a in plan.aggregates))
    counting = plan.include_count or plan.count_only
    return BoundRead(
        table=table,
        columns=columns,
        where=where,
        order=_grouped_order(table, plan.order, grouped, aggregates),
        limit=limit,
        offset=plan.offset,
        count=counting,
        probe_more=not valid_limit and not counting,
        count_only=plan.count_only,
        related=(),
        group=grouped,
        aggregates=aggregates,
        having=(
            bind_having(plan.having, table, grouped, bind_aggregate)
            if plan.having is not None
            else None
        ),
        include_schema=plan.include_schema,
        stream=plan.stream,
        requested_limit=plan.limit,
    )
