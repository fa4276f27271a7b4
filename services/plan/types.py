"""Plans: what a data API request asks for, as plain frozen data (no HTTP, no SQL).

One closed set, one per kind of request (after PostgREST's Action types): parse.py builds the
unbound plans from core.request.ApiRequest; bind.py resolves them against the schema cache
(and the routine catalog) into the Bound* plans that the SQL compiler accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.catalog.routines import RoutineCatalog, RoutineKind
from services.catalog.schema_cache import Column, Relation, SchemaCache, Table
from services.plan.filter_ast import JsonPath, Node
from services.plan.routine_args import BoundCall

ALL_FIELDS = ("*",)
NO_BODY: Any = object()  # the request had no body (as opposed to an empty JSON value)
BatchMode = Literal["stop", "continue", "rollback"]
WriteAction = Literal["create", "update", "delete"]
AggregateFunction = Literal["sum", "count", "avg", "min", "max"]
StreamFormat = Literal["ndjson", "csv"]
NullsOrder = Literal["first", "last"]
Duplicates = Literal["merge", "ignore"]


@dataclass(frozen=True, slots=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls: NullsOrder | None = None
    path: JsonPath | None = None  # PostgREST's order by a value inside a json/jsonb column


@dataclass(frozen=True, slots=True)
class SelectItem:
    """One output of a PostgREST `select`, in its order: a column ("*": every column), the
    name it is answered under, and a cast (a type name, checked by the dialect's parser)."""

    field: str
    alias: str | None = None
    cast: str | None = None
    path: JsonPath | None = None  # `col->a->>b`: a value inside a json/jsonb column


@dataclass(frozen=True, slots=True)
class EmbedRequest:
    """One PostgREST embedded resource `[alias:]name[!hint][!inner](select)` or a spread
    `...name(select)`, with what its `name.`-prefixed parameters ask (filter, order, page)."""

    name: str  # the related table (or foreign key column/constraint) as the client wrote it
    alias: str | None = None
    hint: str | None = None  # a foreign key constraint, column or junction table
    inner: bool = False  # only parent rows that have a matching embedded row
    spread: bool = False  # the columns lifted into the parent row
    select: tuple[SelectItem, ...] = ()
    embeds: tuple[EmbedRequest, ...] = ()
    filter: Node | None = None
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int = 0

    @property
    def key(self) -> str:
        """Its name in the output and in `key.`-prefixed parameters."""
        return self.alias or self.name


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
    stream: StreamFormat | None = None  # every row as NDJSON or CSV, not one JSON page
    having: Node | None = None  # conditions on groups (`COUNT(*) > 2`), with `group` only
    select: tuple[SelectItem, ...] | None = None  # PostgREST's select: outputs in its order
    embeds: tuple[EmbedRequest, ...] = ()  # PostgREST's embedded resources (its select)


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
    allow_related_delete: bool = False  # unlinked has_many children are deleted (spec §3.12)
    options: WriteOptions | None = None  # request-wide semantics (the PostgREST dialect's)


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """A write taken as one request-wide statement per shape instead of record by record
    (the PostgREST dialect): all or nothing, values parsed by PostgreSQL for their columns
    (the rows travel as one JSON parameter), and these choices."""

    strict: bool = True  # an unknown key is an error (PGRST204), not dropped
    columns: tuple[str, ...] | None = None  # only these keys of each record are written
    missing_default: bool = False  # a key a record leaves out takes its default (else NULL)
    on_conflict: tuple[str, ...] | None = None  # the conflict target (None: the primary key)
    duplicates: Duplicates | None = None  # ON CONFLICT DO UPDATE (merge) or DO NOTHING
    dry_run: bool = False  # run, answer, then roll back
    max_affected: int | None = None  # more rows changed: roll back and refuse (PGRST124)
    expect_one: bool = False  # anything but exactly one row changed: roll back and refuse (406)
    represent: bool = False  # answer the rows (`outputs`); else each row's primary key
    outputs: tuple[SelectItem, ...] | None = None  # the rows' shape (None: every column)


@dataclass(frozen=True, slots=True)
class SchemaRead:
    """GET /_schema[/{table}[/_field|/_related[/{name}]]]: descriptions (spec §4.1-4.3)."""

    path: tuple[str, ...] = ()  # below /_schema
    names: tuple[str, ...] = ()  # ids=
    fields: tuple[str, ...] = ()  # fields= of a table list
    as_list: bool = False
    refresh: bool = False


@dataclass(frozen=True, slots=True)
class SchemaWrite:
    """POST/PUT/PATCH/DELETE /_schema[...]: create, alter or drop tables, fields and
    relationships (spec §4.4-4.5). `items` are the body's records as given; their table and
    field specs are read against the schema when the plan runs (the DDL needs the live shape)."""

    verb: str
    path: tuple[str, ...] = ()
    items: tuple[Any, ...] = ()  # records of the body (DF table, field or relationship specs)
    body: Any = NO_BODY  # the body object, for paths that name one table, field or relation
    names: tuple[str, ...] = ()  # what to delete: ids= or the body's names
    describe: bool = False  # fields= given: answer full descriptions
    as_list: bool = False
    rollback: bool = False
    check_exist: bool = False


@dataclass(frozen=True, slots=True)
class ResultOptions:
    """`wrapper`, `returns` and `schema` of a routine call (spec §5.2)."""

    wrapper: str | None = None
    returns: str | None = None  # integer | string | boolean | number
    schema: tuple[tuple[str, str], ...] = ()  # (field, kind) casts of result columns
    limit: int | None = None  # rows of a set-returning function (None: max_records)
    offset: int = 0


@dataclass(frozen=True, slots=True)
class RoutineList:
    """GET /_func, /_proc: the routines the caller reaches, or named ones described."""

    kind: RoutineKind
    names: tuple[str, ...] | None = None  # ids=, or a body list of names
    fields: tuple[str, ...] = ("name",)
    as_list: bool = False
    refresh: bool = False


@dataclass(frozen=True, slots=True)
class RoutineCall:
    """GET or POST /_func/{name}, /_proc/{name}: call one routine (spec §5.2). The name may
    carry inline arguments (`fn(1,2)`); which overload, and so which parameters, is decided
    against the catalog when the plan is bound."""

    kind: RoutineKind
    name: str
    body_params: Any = None  # the body's `params` (an object, a list of values or of pairs)
    query: tuple[tuple[str, str], ...] = ()  # query parameters that may name arguments
    options: ResultOptions = field(default_factory=ResultOptions)
    refresh: bool = False


@dataclass(frozen=True, slots=True)
class SqlQuery:
    """/_sql: one parameterised statement ($1, $2, ...) and its values; GET runs it read-only,
    POST may write."""

    query: str
    params: tuple[Any, ...] = ()
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class SpecRead:
    """GET /_spec: the service's OpenAPI document."""

    refresh: bool = False


Plan = (
    ServiceRoot
    | TableList
    | TableRead
    | TableWrite
    | SchemaRead
    | SchemaWrite
    | RoutineList
    | RoutineCall
    | SqlQuery
    | SpecRead
)


# --- bound plans: every name resolved against the schema cache ---------------------------------


@dataclass(frozen=True, slots=True)
class BoundCondition:
    """A filter condition over a resolved column, values already coerced for the column."""

    column: Column
    op: str
    value: Any  # a scalar, a tuple (in/between), or None
    path: JsonPath | None = None  # a value inside the (json/jsonb) column


@dataclass(frozen=True, slots=True)
class BoundLogic:
    op: Literal["and", "or", "not"]
    items: tuple[BoundNode, ...]


# BoundNode = BoundCondition | BoundLogic | BoundExists: defined after BoundExists, below


@dataclass(frozen=True, slots=True)
class HavingCondition:
    """A `having` condition over a group column or an aggregate, its value(s) coerced."""

    term: Column | BoundAggregate
    op: str
    value: Any  # a scalar, a tuple (in/between), or None (is [not] null)


@dataclass(frozen=True, slots=True)
class HavingLogic:
    op: Literal["and", "or", "not"]
    items: tuple[HavingNode, ...]


HavingNode = HavingCondition | HavingLogic


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
    nulls: NullsOrder | None
    path: JsonPath | None = None  # a value inside the (json/jsonb) column


@dataclass(frozen=True, slots=True)
class BoundOutput:
    """One output of a read selected by name: the column, its output name, its cast."""

    column: Column
    name: str
    cast: str | None = None
    path: JsonPath | None = None  # a value inside the (json/jsonb) column


@dataclass(frozen=True, slots=True)
class BoundRelated:
    relation: Relation
    table: Table
    columns: tuple[Column, ...]
    limit: int
    order: tuple[BoundOrder, ...]
    where: BoundNode | None = None  # the caller's row filter on the embedded table
    junction: Table | None = None  # many_many: the junction table the rows are found through
    junction_where: BoundNode | None = None  # the caller's row filter on the junction
    # a PostgREST embedding: its output key, outputs, nested embeddings, offset, spread
    name: str = ""  # "" on /api/v2 (the relationship's name is the key)
    outputs: tuple[BoundOutput, ...] = ()
    nested: tuple[BoundRelated, ...] = ()
    offset: int = 0
    spread: bool = False


@dataclass(frozen=True, slots=True)
class BoundExists:
    """A condition that the row has a related row (PostgREST's `!inner` embedding); `alias`
    names the related table inside the EXISTS (distinct per nesting depth)."""

    parent: Table
    related: BoundRelated
    alias: str


BoundNode = BoundCondition | BoundLogic | BoundExists


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
    stream: StreamFormat | None = None
    requested_limit: int | None = None  # the client's own limit (a stream is not paged)
    having: HavingNode | None = None  # HAVING of a grouped read
    outputs: tuple[BoundOutput, ...] = ()  # a PostgREST select: these instead of `columns`


@dataclass(frozen=True, slots=True)
class NestedRecord:
    """One related record inside a written record (spec §3.12): created when it names no
    key, else updated (or only linked); `unlink` when it sets its link to the parent to null."""

    values: dict[str, Any]  # column name -> coerced value; never the link columns
    key: tuple[Any, ...] | None = None  # the related table's primary key, when given
    label: str = ""  # where it sits in the body, e.g. "order_items_by_order_id[1]"
    unlink: bool = False
    nested: tuple[NestedWrite, ...] = ()  # its own related records


@dataclass(frozen=True, slots=True)
class NestedWrite:
    """The records a written record gives for one of its relationships."""

    relation: Relation
    table: Table  # the related table
    records: tuple[NestedRecord, ...]
    junction: Table | None = None  # many_many
    # the caller's row filter per verb it needs on the related table (GET, POST, PATCH,
    # DELETE) and on the junction ("junction"); empty for admins
    filters: dict[str, BoundNode | None] = field(default_factory=dict)

    def where(self, verb: str) -> BoundNode | None:
        return self.filters.get(verb)


@dataclass(frozen=True, slots=True)
class BoundRecord:
    """One record of a write: the values to write, and the key it addresses (updates/deletes)."""

    values: dict[str, Any]  # column name -> coerced value
    key: tuple[Any, ...] | None = None
    label: str = ""
    error: Exception | None = None  # a validation failure found while binding
    nested: tuple[NestedWrite, ...] = ()  # related records written with it (spec §3.12)


@dataclass(frozen=True, slots=True)
class BoundWrite:
    table: Table
    action: WriteAction
    keys: tuple[Column, ...]
    returning: tuple[Column, ...]
    records: Sequence[BoundRecord]  # a tuple, or for a batch create bind_batch.BoundCreates
    where: BoundNode | None = None  # filter form
    single: bool = False  # URL id form
    mode: BatchMode = "stop"
    upsert: bool = False
    force: bool = False
    as_list: bool = False
    related: tuple[BoundRelated, ...] = field(default=())
    allow_related_delete: bool = False
    # a write with WriteOptions: the options, the columns given, the conflict target, the
    # outputs of each row and the row filter an upsert's merge must satisfy (PATCH's)
    options: WriteOptions | None = None
    given: tuple[Column, ...] = ()
    conflict: tuple[Column, ...] | None = None
    outputs: tuple[BoundOutput, ...] = ()
    merge_where: BoundNode | None = None


# --- bound plans of the other resources -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoundTableList:
    plan: TableList
    schema: SchemaCache


@dataclass(frozen=True, slots=True)
class BoundSchemaRead:
    plan: SchemaRead
    schema: SchemaCache
    table: Table | None  # the table the path names, resolved (None: the table list)


@dataclass(frozen=True, slots=True)
class BoundRoutineList:
    plan: RoutineList
    catalog: RoutineCatalog


@dataclass(frozen=True, slots=True)
class BoundRoutineCall:
    plan: RoutineCall
    call: BoundCall  # the overload chosen and its arguments, each coerced for its parameter
    limit: int = 0  # rows of a set-returning function: the caller's limit capped by max_records
    offset: int = 0

    @property
    def prefix(self) -> str:
        """DF's lead line of every error of a call."""
        return f"Failed to call database stored {self.plan.kind}."


Bound = (
    ServiceRoot
    | BoundTableList
    | BoundRead
    | BoundWrite
    | BoundSchemaRead
    | SchemaWrite
    | BoundRoutineList
    | BoundRoutineCall
    | SqlQuery
    | SpecRead
)
