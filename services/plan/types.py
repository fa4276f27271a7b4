"""Plans: what a data API request asks for, as plain frozen data (no HTTP, no SQL).

parse.py builds the unbound plans from request parts; bind.py resolves them against the schema
cache into the Bound* plans that the SQL compiler accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.catalog.schema_cache import Column, Relation, Table
from services.plan.filter_ast import Node

ALL_FIELDS = ("*",)
BatchMode = Literal["stop", "continue", "rollback"]
WriteAction = Literal["create", "update", "delete"]
AggregateFunction = Literal["sum", "count", "avg", "min", "max"]


@dataclass(frozen=True, slots=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls: Literal["first", "last"] | None = None


@dataclass(frozen=True, slots=True)
class AggregateRequest:
    """One `FUNC(field)` of `fields` on a grouped read; field None is COUNT(*)."""

    function: AggregateFunction
    field: str | None


@dataclass(frozen=True, slots=True)
class RelatedRequest:
    """One `related=` entry with its per-relationship options ({rel}.fields, .limit, .order)."""

    name: str
    fields: tuple[str, ...] | None = None
    limit: int | None = None
    order: tuple[OrderItem, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceRoot:
    """GET /api/v2/{service}: the resource types."""

    as_list: bool = False
    all_fields: bool = False


@dataclass(frozen=True, slots=True)
class TableList:
    """GET /_table: the tables and views."""

    all_fields: bool = False
    as_list: bool = False
    ids: tuple[str, ...] | None = None
    refresh: bool = False


@dataclass(frozen=True, slots=True)
class TableRead:
    table: str
    fields: tuple[str, ...] | None = None  # None = default (all on reads), ALL_FIELDS = "*"
    filter: Node | None = None
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None  # None = no valid limit given
    offset: int = 0
    include_count: bool = False
    count_only: bool = False
    ids: tuple[Any, ...] | None = None
    record_id: str | None = None
    records: tuple[Any, ...] | None = None  # GET tunnelled through POST with records
    id_field: tuple[str, ...] | None = None
    related: tuple[RelatedRequest, ...] = ()  # a first entry "*" means all
    continue_on_error: bool = False
    as_list: bool = False
    refresh: bool = False
    group: tuple[str, ...] | None = None
    aggregates: tuple[AggregateRequest, ...] = ()  # taken out of `fields`
    include_schema: bool = False


@dataclass(frozen=True, slots=True)
class TableWrite:
    table: str
    action: WriteAction
    records: tuple[Any, ...] = ()
    record_id: str | None = None
    ids: tuple[Any, ...] | None = None
    filter: Node | None = None
    fields: tuple[str, ...] | None = None  # None = the key fields only
    id_field: tuple[str, ...] | None = None
    mode: BatchMode = "stop"
    force: bool = False
    related: tuple[RelatedRequest, ...] = ()  # a first entry "*" means all
    as_list: bool = False


Plan = ServiceRoot | TableList | TableRead | TableWrite


# --- bound plans: every name resolved against the schema cache ---------------------------------


@dataclass(frozen=True, slots=True)
class BoundCondition:
    """A filter condition over a resolved column, values already coerced for the column."""

    column: Column
    op: str
    value: Any  # a scalar, a tuple (in/between), or None


@dataclass(frozen=True, slots=True)
class BoundLogic:
    op: Literal["and", "or", "not"]
    items: tuple[BoundNode, ...]


BoundNode = BoundCondition | BoundLogic


@dataclass(frozen=True, slots=True)
class BoundAggregate:
    """An aggregate over a resolved column (None: COUNT(*)); `function` keys a fixed SQL table."""

    function: AggregateFunction
    column: Column | None

    @property
    def name(self) -> str:
        """The output name DF gives it: SUM_total, COUNT_ALL."""
        return f"{self.function.upper()}_{self.column.name if self.column else 'ALL'}"


@dataclass(frozen=True, slots=True)
class BoundOrder:
    column: Column | BoundAggregate  # an aggregate only on grouped reads
    descending: bool
    nulls: Literal["first", "last"] | None


@dataclass(frozen=True, slots=True)
class BoundRelated:
    relation: Relation
    table: Table
    columns: tuple[Column, ...]
    limit: int
    order: tuple[BoundOrder, ...]
    where: BoundNode | None = None  # the caller's row filter on the embedded table


@dataclass(frozen=True, slots=True)
class BoundRead:
    table: Table
    columns: tuple[Column, ...]
    where: BoundNode | None
    order: tuple[BoundOrder, ...]
    limit: int
    offset: int
    count: bool  # add meta.count (include_count / count_only)
    probe_more: bool  # no valid limit: find out whether the page was truncated
    count_only: bool
    related: tuple[BoundRelated, ...]
    keys: tuple[Column, ...] = ()
    key_values: tuple[tuple[Any, ...], ...] | None = None  # ids / record id lookups
    key_labels: tuple[str, ...] = ()  # the ids as the client wrote them, for messages
    single: bool = False  # URL id: answer one unwrapped record
    continue_on_error: bool = False
    as_list: bool = False
    group: tuple[Column, ...] = ()  # GROUP BY columns; `columns` are then a subset of them
    aggregates: tuple[BoundAggregate, ...] = ()  # selected after `columns`
    include_schema: bool = False


@dataclass(frozen=True, slots=True)
class BoundRecord:
    """One record of a write: the values to write, and the key it addresses (updates/deletes)."""

    values: dict[str, Any]  # column name -> coerced value
    key: tuple[Any, ...] | None = None
    label: str = ""
    error: Exception | None = None  # a validation failure found while binding


@dataclass(frozen=True, slots=True)
class BoundWrite:
    table: Table
    action: WriteAction
    keys: tuple[Column, ...]
    returning: tuple[Column, ...]
    records: tuple[BoundRecord, ...]
    where: BoundNode | None = None  # filter form
    single: bool = False  # URL id form
    mode: BatchMode = "stop"
    upsert: bool = False
    force: bool = False
    as_list: bool = False
    related: tuple[BoundRelated, ...] = field(default=())
