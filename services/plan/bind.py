"""Bind stage: Plan x SchemaCache -> Bound plan. The only place user-supplied names are accepted.

Every table, column and relationship name is resolved here (404/400 naming it); values are
coerced for their columns. The compiler downstream sees only resolved Column/Table objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import Column, SchemaCache, Table
from services.config import ServiceConfig
from services.plan.filter_ast import And, Condition, Node, Not, Or, Value
from services.plan.parse import parse_aggregate
from services.plan.types import (
    ALL_FIELDS,
    AggregateRequest,
    BoundAggregate,
    BoundCondition,
    BoundLogic,
    BoundNode,
    BoundOrder,
    BoundRead,
    BoundRecord,
    BoundRelated,
    BoundWrite,
    OrderItem,
    RelatedRequest,
    TableRead,
    TableWrite,
)
from services.plan.values import coerce, coerce_text

# The caller's access to an embedded table: its row filter (None: every row), or a refusal
# raised as a GatewayError. None for admins (everything, unfiltered).
RelatedGuard = Callable[[Table], BoundNode | None]

_PATTERN_WRAP = {
    "contains": ("%", "%"),
    "not contains": ("%", "%"),
    "starts with": ("", "%"),
    "not starts with": ("", "%"),
    "ends with": ("%", ""),
    "not ends with": ("%", ""),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _operand(column: Column, value: Value, op: str) -> Any:
    raw = value.raw
    if op in _PATTERN_WRAP:
        before, after = _PATTERN_WRAP[op]
        return before + _escape_like("" if raw is None else str(raw)) + after
    if op in ("like", "not like"):
        return "" if raw is None else str(raw)
    return coerce_text(column, raw)


def bind_filter(node: Node, table: Table) -> BoundNode:
    """Resolve a filter AST's fields and coerce its values."""
    if isinstance(node, Condition):
        column = table.find_column(node.field)
        if column is None:
            raise BadRequest(f"Invalid or unparsable field in filter request: '{node.field}'")
        value: Any
        if node.value is None:
            value = None
        elif isinstance(node.value, tuple):
            value = tuple(_operand(column, v, node.op) for v in node.value)
        else:
            value = _operand(column, node.value, node.op)
        op = node.op
        if value is None and op in ("=", "!="):
            op = "is null" if op == "=" else "is not null"
        return BoundCondition(column, op, value)
    if isinstance(node, Not):
        return BoundLogic("not", (bind_filter(node.item, table),))
    if isinstance(node, And):
        return BoundLogic("and", tuple(bind_filter(i, table) for i in node.items))
    if isinstance(node, Or):
        return BoundLogic("or", tuple(bind_filter(i, table) for i in node.items))
    raise TypeError(f"unknown filter node {node!r}")  # pragma: no cover


def _and(*nodes: BoundNode | None) -> BoundNode | None:
    present = tuple(n for n in nodes if n is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else BoundLogic("and", present)


def bind_columns(
    table: Table, fields: tuple[str, ...] | None, default: tuple[Column, ...]
) -> tuple[Column, ...]:
    """The selected columns in table order; unknown names are a 400."""
    if fields is None:
        return default
    if fields == ALL_FIELDS:
        return table.columns
    chosen = {table.column(f).name for f in fields}
    return tuple(c for c in table.columns if c.name in chosen)


def bind_order(table: Table, order: tuple[OrderItem, ...]) -> tuple[BoundOrder, ...]:
    out = []
    for item in order:
        column = table.find_column(item.field)
        if column is None:
            raise BadRequest(f"Invalid field '{item.field}' in order by clause.")
        out.append(BoundOrder(column, item.descending, item.nulls))
    return tuple(out)


def _bind_related(
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
        where = None
        if guard is not None:
            try:
                where = guard(other)
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
            )
        )
    return tuple(out)


def _key_tuple(keys: tuple[Column, ...], raw: Any) -> tuple[Any, ...]:
    """Coerce one identifier (a URL id, an ids item) for the key column(s)."""
    if len(keys) == 1:
        return (coerce(keys[0], raw),)
    # composite keys addressed by one value: DF gives the value to every key field (spec §3.5)
    return tuple(coerce(k, raw) for k in keys)


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
    related = _bind_related(schema, table, plan.related, max_records, related_guard)
    if related:
        needed = tuple(table.column(f) for r in related for f in r.relation.fields)
        columns = _with_key_columns(columns, needed)
    common: dict[str, Any] = {
        "table": table,
        "columns": columns,
        "order": bind_order(table, plan.order),
        "related": related,
        "as_list": plan.as_list,
    }
    if plan.record_id is not None or plan.ids is not None or plan.records:
        keys = table.key_columns(plan.id_field)
        if plan.record_id is not None:
            raw_ids: tuple[Any, ...] = (plan.record_id,)
        elif plan.ids is not None:
            raw_ids = plan.ids
        else:
            raw_ids = tuple(_record_key_raw(keys, r, i) for i, r in enumerate(plan.records or ()))
        key_values = tuple(
            _key_tuple(keys, r) if not isinstance(r, tuple) else _coerce_key(keys, r)
            for r in raw_ids
        )
        return BoundRead(
            where=where,
            limit=max_records,
            offset=0,
            count=False,
            probe_more=False,
            count_only=False,
            keys=keys,
            key_values=key_values,
            key_labels=tuple(_label(r) for r in raw_ids),
            single=plan.record_id is not None,
            continue_on_error=plan.continue_on_error,
            **common,
        )
    return BoundRead(
        where=where,
        limit=limit,
        offset=plan.offset,
        count=plan.include_count or plan.count_only,
        probe_more=not valid_limit and not (plan.include_count or plan.count_only),
        count_only=plan.count_only,
        keys=table.key_columns(plan.id_field) if plan.as_list else (),
        include_schema=plan.include_schema,
        **common,
    )


# --- grouped reads (`group` with aggregates in `fields`, spec §3.2) ----------------------------

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
        include_schema=plan.include_schema,
    )


def _label(raw: Any) -> str:
    if isinstance(raw, tuple):
        return ",".join(str(v) for v in raw)
    return str(raw)


def _coerce_key(keys: tuple[Column, ...], raw: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(coerce(k, v) for k, v in zip(keys, raw, strict=True))


def _record_key_raw(keys: tuple[Column, ...], record: Any, index: int) -> tuple[Any, ...]:
    if not isinstance(record, dict):
        raise BadRequest(f"Record {index} must be a JSON object.")
    missing = [k.name for k in keys if _get_ci(record, k.name) is _MISSING]
    if missing:
        raise BadRequest(f"Required id field(s) not found in record {index}: {', '.join(missing)}.")
    return tuple(_get_ci(record, k.name) for k in keys)


_MISSING = object()


def _get_ci(record: dict[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    lowered = name.lower()
    for key, value in record.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return _MISSING


def _record_values(
    table: Table, record: Any, *, creating: bool, skip: frozenset[str]
) -> dict[str, Any]:
    """Validate and coerce one record's fields (spec §3.6); unknown keys are dropped."""
    if not isinstance(record, dict):
        raise BadRequest("Each record must be a JSON object.")
    values: dict[str, Any] = {}
    for key, raw in record.items():
        column = table.find_column(key) if isinstance(key, str) else None
        if column is None or column.name in skip or column.is_generated:
            continue
        if raw is None and column.auto_increment and creating:
            continue
        if raw is None and not column.nullable:
            raise BadRequest(f"Field '{column.name}' can not be NULL.")
        values[column.name] = coerce(column, raw)
    if creating:
        for column in table.columns:
            if column.required and column.name not in values:
                raise BadRequest(f"Required field '{column.name}' can not be NULL.")
    if not values:
        raise BadRequest("No valid fields were found in record.")
    return values


def _guarded(build: Any) -> tuple[Any, Exception | None]:
    try:
        return build(), None
    except GatewayError as exc:
        return None, exc


def bind_write(plan: TableWrite, schema: SchemaCache, config: ServiceConfig) -> BoundWrite:
    """Resolve a TableWrite. Per-record validation failures are kept on the record, not raised,
    so batch semantics can report them at their index."""
    table = schema.table(plan.table)  # views: PostgreSQL decides whether they are updatable
    needs_keys = (
        plan.record_id is not None
        or plan.ids is not None
        or (plan.action != "create" and plan.filter is None and not plan.force)
    )
    keys = (
        table.key_columns(plan.id_field)
        if needs_keys
        else tuple(table.column(c) for c in (plan.id_field or table.primary_key))
    )
    returning = bind_columns(table, plan.fields, keys)
    where = bind_filter(plan.filter, table) if plan.filter is not None else None
    key_names = frozenset(k.name for k in keys)
    records: list[BoundRecord] = []
    upsert = config.allow_upsert and plan.action == "update"

    if plan.action == "create":
        for record in plan.records:
            values, error = _guarded(
                lambda r=record: _record_values(table, r, creating=True, skip=frozenset())
            )
            records.append(BoundRecord(values or {}, error=error))
    elif plan.action == "update":
        template = plan.records[0] if plan.records else {}
        if plan.record_id is not None or plan.ids is not None:
            raw_ids = (plan.record_id,) if plan.record_id is not None else plan.ids or ()
            for raw in raw_ids:

                def build(r: Any = raw) -> tuple[tuple[Any, ...], dict[str, Any]]:
                    key = _key_tuple(keys, r)
                    skip = frozenset() if upsert else key_names
                    vals = _record_values(table, template, creating=False, skip=skip)
                    vals = {k: v for k, v in vals.items() if k not in key_names}
                    if not vals:
                        raise BadRequest("No valid fields were found in record.")
                    return key, vals

                built, error = _guarded(build)
                key, vals = built if built else (None, {})
                records.append(BoundRecord(vals, key=key, label=str(raw), error=error))
        elif where is not None:
            vals, error = _guarded(
                lambda: _record_values(table, template, creating=False, skip=key_names)
            )
            if error is not None:
                raise error
            records.append(BoundRecord(vals or {}))
        else:
            for index, record in enumerate(plan.records):

                def build_rec(
                    r: Any = record, i: int = index
                ) -> tuple[tuple[Any, ...], dict[str, Any]]:
                    raw_key = _record_key_raw(keys, r, i)
                    key = _coerce_key(keys, raw_key)
                    vals = _record_values(table, r, creating=False, skip=key_names)
                    return key, vals

                built, error = _guarded(build_rec)
                key, vals = built if built else (None, {})
                records.append(
                    BoundRecord(vals, key=key, label=_label(key) if key else "", error=error)
                )
    else:  # delete
        if plan.record_id is not None or plan.ids is not None:
            raw_ids = (plan.record_id,) if plan.record_id is not None else plan.ids or ()
            for raw in raw_ids:
                key, error = _guarded(lambda r=raw: _key_tuple(keys, r))
                records.append(BoundRecord({}, key=key, label=str(raw), error=error))
        elif plan.records:
            for index, record in enumerate(plan.records):
                key, error = _guarded(
                    lambda r=record, i=index: _coerce_key(keys, _record_key_raw(keys, r, i))
                )
                records.append(
                    BoundRecord({}, key=key, label=_label(key) if key else "", error=error)
                )
    return BoundWrite(
        table=table,
        action=plan.action,
        keys=keys,
        returning=returning,
        records=tuple(records),
        where=where,
        single=plan.record_id is not None,
        mode=plan.mode,
        upsert=upsert,
        force=plan.force,
        as_list=plan.as_list,
        related=_bind_related(schema, table, plan.related, config.effective_max_records),
    )
