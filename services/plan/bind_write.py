"""Bind stage for writes: TableWrite x SchemaCache -> BoundWrite.

Each record is validated and coerced on its own: a record that fails keeps its error, so batch
semantics (spec §3.8) can report it at its index instead of failing the whole request.
"""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest, GatewayError
from services.catalog.schema_cache import SchemaCache
from services.config import ServiceConfig
from services.plan.bind_batch import BoundCreates, bind_creates
from services.plan.bind_names import (
    bind_columns,
    bind_filter,
    coerce_key,
    key_label,
    key_tuple,
    record_key,
)
from services.plan.bind_nested import (
    WriteGuard,
    bind_nested,
    has_related,
    link_fields,
    split_related,
)
from services.plan.bind_read import RelatedGuard, bind_related
from services.plan.bind_write_options import bind_with_options
from services.plan.types import (
    BoundRecord,
    BoundWrite,
    NestedWrite,
    TableWrite,
)
from services.plan.write_values import record_values as _record_values


def _guarded(build: Any) -> tuple[Any, Exception | None]:
    try:
        return build(), None
    except GatewayError as exc:
        return None, exc


def bind_write(
    plan: TableWrite,
    schema: SchemaCache,
    config: ServiceConfig,
    guard: RelatedGuard | None = None,
    write_guard: WriteGuard | None = None,
) -> BoundWrite:
    """Resolve a TableWrite. Per-record validation failures are kept on the record, not raised,
    so batch semantics can report them at their index. Relationship keys in a record are
    nested writes (bind_nested.py), each related table checked with `write_guard`. A plan
    with WriteOptions binds in bind_write_options.py."""
    table = schema.table(plan.table)  # views: PostgreSQL decides whether they are updatable
    if plan.options is not None:  # one request-wide write (the PostgREST dialect's)
        return bind_with_options(plan, plan.options, table, write_guard)
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
    if plan.as_list:  # as_list answers the identifiers, whatever `fields` selects (spec §3.2)
        returning = tuple(c for c in table.columns if c in returning or c in keys)
    where = bind_filter(plan.filter, table) if plan.filter is not None else None
    key_names = frozenset(k.name for k in keys)
    records: list[BoundRecord] = []
    creates: BoundCreates | None = None
    upsert = config.allow_upsert and plan.action == "update"

    def bind_one(
        raw: Any, *, creating: bool, skip: frozenset[str]
    ) -> tuple[dict[str, Any], tuple[NestedWrite, ...]]:
        """A record's own values and its nested related writes."""
        plain, pairs = split_related(table, raw)
        if not pairs:
            return _record_values(table, raw, creating=creating, skip=skip), ()
        given = link_fields(pairs)
        values = _record_values(
            table, plain, creating=creating, skip=skip, given=given, allow_empty=True
        )
        if creating and not values and not given:
            raise BadRequest("No valid fields were found in record.")
        return values, bind_nested(schema, pairs, write_guard, plan.allow_related_delete)

    if plan.action == "create" and len(plan.records) > 1:  # a batch: column by column
        creates = bind_creates(
            table, plan.records, lambda r: _record_values(table, r, creating=True, skip=frozenset())
        )
        if table.relations and any(
            has_related(table, plan.records[s.start]) for s in creates.spans
        ):
            creates = None  # nested related records: record by record
    if plan.action == "create":
        for record in plan.records if creates is None else ():
            built, error = _guarded(lambda r=record: bind_one(r, creating=True, skip=frozenset()))
            values, nested = built or ({}, ())
            records.append(BoundRecord(values, error=error, nested=nested))
    elif plan.action == "update":
        template = plan.records[0] if plan.records else {}
        if plan.record_id is not None or plan.ids is not None:
            raw_ids = (plan.record_id,) if plan.record_id is not None else plan.ids or ()
            for raw in raw_ids:

                def build(r: Any = raw) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
                    key = key_tuple(keys, r)
                    skip = frozenset() if upsert else key_names
                    vals, nested = bind_one(template, creating=False, skip=skip)
                    vals = {k: v for k, v in vals.items() if k not in key_names}
                    if not vals and not nested:
                        raise BadRequest("No valid fields were found in record.")
                    return key, vals, nested

                built, error = _guarded(build)
                key, vals, nested = built if built else (None, {}, ())
                records.append(
                    BoundRecord(vals, key=key, label=str(raw), error=error, nested=nested)
                )
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
                ) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
                    raw_key = record_key(keys, r, i)
                    key = coerce_key(keys, raw_key)
                    vals, nested = bind_one(r, creating=False, skip=key_names)
                    return key, vals, nested

                built, error = _guarded(build_rec)
                key, vals, nested = built if built else (None, {}, ())
                label = key_label(key) if key else ""
                records.append(BoundRecord(vals, key=key, label=label, error=error, nested=nested))
    else:  # delete
        if plan.record_id is not None or plan.ids is not None:
            raw_ids = (plan.record_id,) if plan.record_id is not None else plan.ids or ()
            for raw in raw_ids:
                key, error = _guarded(lambda r=raw: key_tuple(keys, r))
                records.append(BoundRecord({}, key=key, label=str(raw), error=error))
        elif plan.records:
            for index, record in enumerate(plan.records):
                key, error = _guarded(
                    lambda r=record, i=index: coerce_key(keys, record_key(keys, r, i))
                )
                records.append(
                    BoundRecord({}, key=key, label=key_label(key) if key else "", error=error)
                )
    return BoundWrite(
        table=table,
        action=plan.action,
        keys=keys,
        returning=returning,
        records=tuple(records) if creates is None else creates,
        where=where,
        single=plan.record_id is not None,
        mode=plan.mode,
        upsert=upsert,
        force=plan.force,
        as_list=plan.as_list,
        related=bind_related(schema, table, plan.related, config.effective_max_records, guard),
        allow_related_delete=plan.allow_related_delete,
    )
