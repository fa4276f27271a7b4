"""Parse stage for the service root and `_table`: verb, path, query options and JSON body -> an
unbound Plan.

Knows DreamFactory's parameter names and aliases (spec §3.2) and body wrapping (§1.4); answers
400 naming the offending parameter. It never looks at the schema and never builds SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from core.errors import BadRequest, NotFound
from core.flags import is_true
from core.records import NO_RECORDS, records_from_body
from services.plan.filter_ast import Node
from services.plan.filters import parse_filter
from services.plan.stream_format import stream_format
from services.plan.types import (
    ALL_FIELDS,
    NO_BODY,
    AggregateFunction,
    AggregateRequest,
    BatchMode,
    NullsOrder,
    OrderItem,
    Plan,
    RelatedRequest,
    ServiceRoot,
    TableList,
    TableRead,
    TableWrite,
)

_ALIASES = {
    "fields": ("fields", "select"),
    "filter": ("filter", "where"),
    "limit": ("limit", "top"),
    "offset": ("offset", "skip"),
    "order": ("order", "sort", "order_by"),
    "group": ("group", "group_by"),
}
# options the _table resource also takes from a JSON body object (spec §1.3)
_BODY_OPTIONS = frozenset(
    {
        "fields",
        "select",
        "ids",
        "filter",
        "where",
        "limit",
        "top",
        "offset",
        "skip",
        "order",
        "sort",
        "order_by",
        "group",
        "group_by",
        "count_only",
        "params",
        "continue",
        "rollback",
        "id_field",
        "related",
        "include_count",
        "include_schema",
        "as_list",
        "having",
    }
)
_MAX_ID_COUNT = 10_000


class Options:
    """Query options with DF's aliases, falling back to the body's top-level keys."""

    __slots__ = ("_body", "_empty", "_query")

    def __init__(self, query: Mapping[str, str], body: Any) -> None:
        self._query = query
        self._body = body if isinstance(body, dict) else {}
        self._empty = not query and not self._body  # the common GET-by-id case

    def get(self, name: str) -> Any:
        if self._empty:
            return None
        for alias in _ALIASES.get(name, (name,)):
            if alias in self._query:
                return self._query[alias]
        for alias in _ALIASES.get(name, (name,)):
            if alias in _BODY_OPTIONS and alias in self._body:
                return self._body[alias]
        return None

    def flag(self, name: str) -> bool:
        value = self.get(name)
        return value is not None and is_true(value)  # most options are absent

    def raw_query(self) -> Mapping[str, str]:
        return self._query


def _as_int(value: Any, name: str) -> int | None:
    """DF casts limit/offset to integers; junk becomes "not given" (for `limit`, the service
    maximum: spec §3.2, §3.9)."""
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


_MAX_OFFSET = 2**63 - 1  # PostgreSQL's OFFSET is a bigint


def _offset(value: Any) -> int:
    """Rows to skip: junk counts as 0 as in DF; a negative or over-large offset is a 400 (DF
    would pass it to the database and fail with a 500)."""
    offset = _as_int(value, "offset") or 0
    if offset < 0:
        raise BadRequest(
            f"offset must be 0 or more (the rows to skip), not {offset}.",
            context={"param": "offset"},
        )
    if offset > _MAX_OFFSET:
        raise BadRequest(f"offset may be at most {_MAX_OFFSET}.", context={"param": "offset"})
    return offset


def _as_list(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list):
        items = [str(v).strip() for v in value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    else:
        items = [str(value)]
    items = [i for i in items if i]
    return tuple(items) if items else None


def _fields(options: Options) -> tuple[str, ...] | None:
    fields = _as_list(options.get("fields"), "fields")
    if fields and "*" in fields:
        return ALL_FIELDS
    return fields


# `SUM(f)`, `COUNT(*)`, ... (spec §3.2): the name must be one of ours; the argument is looked up
# in the schema by bind, so anything else (`SUM(total);DROP ...`) stays a plain, unknown field
_AGGREGATE = re.compile(r"^(sum|count|avg|min|max)\s*\(\s*([^()]*?)\s*\)$", re.IGNORECASE)


def parse_aggregate(text: str) -> AggregateRequest | None:
    """`FUNC(field)` as an AggregateRequest, or None when `text` is not aggregate syntax."""
    match = _AGGREGATE.match(text.strip())
    if match is None:
        return None
    function = cast(AggregateFunction, match.group(1).lower())  # the pattern admits only these
    argument = match.group(2)
    if len(argument) >= 2 and argument[0] == argument[-1] == '"':
        argument = argument[1:-1].replace('""', '"')
    if argument == "*":
        if function != "count":
            raise BadRequest(
                f"Invalid field requested: {text.strip()}", context={"param": "fields"}
            )
        return AggregateRequest(function, None)
    return AggregateRequest(function, argument)


def _grouped_fields(
    options: Options, group: tuple[str, ...] | None
) -> tuple[tuple[str, ...] | None, tuple[AggregateRequest, ...]]:
    """`fields` split into plain names and aggregates; aggregates need `group` (as in DF)."""
    fields = _fields(options)
    if not fields or fields == ALL_FIELDS:
        return fields, ()
    plain: list[str] = []
    aggregates: list[AggregateRequest] = []
    for item in fields:
        aggregate = parse_aggregate(item)
        if aggregate is None:
            plain.append(item)
            continue
        if not group:
            raise BadRequest(
                f"Aggregate '{item}' in fields requires a 'group' parameter.",
                context={"param": "group"},
            )
        if aggregate not in aggregates:
            aggregates.append(aggregate)
    return tuple(plain), tuple(aggregates)


# `FUNC(arg)` inside a having condition, outside '...' strings: spelled as a quoted field name
# (`"COUNT(*)"`) so the filter grammar reads it; bind resolves it like an aggregate of `fields`
_HAVING_AGGREGATE = re.compile(
    r"'(?:[^'\\]|''|\\.)*'"  # a string value: left as it is
    r"|\b(sum|count|avg|min|max)\s*\(\s*(\*|[A-Za-z_][\w$]*|\"(?:[^\"]|\"\")*\")\s*\)",
    re.IGNORECASE,
)


def _having(options: Options, group: tuple[str, ...] | None, params: Any) -> Node | None:
    """`having` (spec §3.2 names it; DF ignores it): filter syntax over group columns and
    aggregates, e.g. `COUNT(*) > 2 AND SUM(total) >= 100`; values are bound like a filter's."""
    text = options.get("having")
    if text is None or text == "":
        return None
    if not isinstance(text, str):
        raise BadRequest("having must be a string.", context={"param": "having"})
    if not group:
        raise BadRequest("'having' requires a 'group' parameter.", context={"param": "having"})

    def spell(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        aggregate = f"{match.group(1)}({match.group(2)})"
        return '"' + aggregate.replace('"', '""') + '"'

    try:
        return parse_filter(_HAVING_AGGREGATE.sub(spell, text), params)
    except BadRequest as exc:
        raise BadRequest(
            f"Invalid having clause: {exc.message}", context={"param": "having"}
        ) from None


def _ids(options: Options) -> tuple[Any, ...] | None:
    value = options.get("ids")
    if value is None or value == "":
        return None
    if isinstance(value, list):
        items = tuple(value)
    elif isinstance(value, str):
        items = tuple(v.strip() for v in value.split(",") if v.strip())
    else:
        items = (value,)
    if len(items) > _MAX_ID_COUNT:
        raise BadRequest(f"Too many ids: at most {_MAX_ID_COUNT} per request.")
    return items or None


# `field [asc|desc] [nulls first|last]`; the field may hold spaces or be "double-quoted"
_ORDER_ITEM = re.compile(
    r"^\s*(?P<field>.+?)(?:\s+(?P<dir>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def parse_order(value: Any, param: str = "order") -> tuple[OrderItem, ...]:
    """`field [asc|desc] [nulls first|last], ...` (spec §3.2)."""
    if value is None or value == "":
        return ()
    text = ",".join(value) if isinstance(value, list) else str(value)
    if ";" in text:
        raise BadRequest("Invalid order by clause in request.", context={"param": param})
    items = []
    for part in text.split(","):
        if not part.strip():
            continue
        match = _ORDER_ITEM.match(part)
        if match is None:  # pragma: no cover - the pattern matches any non-blank text
            raise BadRequest(f"Invalid field '{part.strip()}' in order by clause.")
        field = match.group("field")
        if len(field) >= 2 and field[0] == field[-1] == '"':
            field = field[1:-1].replace('""', '"')
        direction, nulls = match.group("dir"), match.group("nulls")
        items.append(
            OrderItem(
                field,
                descending=bool(direction) and direction.lower() == "desc",
                nulls=cast(NullsOrder, nulls.lower()) if nulls else None,  # first | last
            )
        )
    return tuple(items)


_REL_OPTIONS = ("fields", "limit", "order")


def _related_request(name: str, query: Mapping[str, str]) -> RelatedRequest:
    """`related` entry `name` with its `{name}.fields|limit|order` (or `{name}_...`) options."""

    def opt(option: str) -> Any:
        return query.get(f"{name}.{option}", query.get(f"{name}_{option}"))

    fields = _as_list(opt("fields"), f"{name}.fields")
    return RelatedRequest(
        name=name,
        fields=ALL_FIELDS if fields and "*" in fields else fields,
        limit=_as_int(opt("limit"), f"{name}.limit"),
        order=parse_order(opt("order"), f"{name}.order"),
    )


def _related(options: Options) -> tuple[RelatedRequest, ...]:
    """Explicit names, or for `*` a first entry named "*" followed by any per-name options."""
    names = _as_list(options.get("related"), "related")
    if not names:
        return ()
    query = options.raw_query()
    if "*" in names:
        named = set()
        for key in query:
            for option in _REL_OPTIONS:
                for sep in (".", "_"):
                    if key.endswith(sep + option) and len(key) > len(option) + 1:
                        named.add(key[: -len(option) - 1])
        return (RelatedRequest("*"), *(_related_request(n, query) for n in sorted(named)))
    return tuple(_related_request(n, query) for n in names)


def _mode(options: Options) -> BatchMode:
    cont, rollback = options.flag("continue"), options.flag("rollback")
    if cont and rollback:
        raise BadRequest("Rollback and continue operations can not be requested at the same time.")
    return "continue" if cont else "rollback" if rollback else "stop"


def parse_service_root(verb: str, query: Mapping[str, str], body: Any) -> ServiceRoot:
    """GET /api/v2/{service} (spec §2.2)."""
    options = Options(query, body)
    if verb != "GET":
        raise BadRequest(f"{verb} is not supported on the service root.")
    return ServiceRoot(as_list=options.flag("as_list"), all_fields=_fields(options) is not None)


def parse_table(
    verb: str,
    segments: tuple[str, ...],
    query: Mapping[str, str],
    body: Any = NO_BODY,
    accept: str = "",
) -> Plan:
    """/_table[/{table}[/{id}]] (`segments` start with "_table"), or a 400/404 naming what is
    wrong."""
    options = Options(query, body)
    if len(segments) == 1:
        if verb != "GET":
            raise BadRequest(f"{verb} is not supported on the table list; name a table.")
        return TableList(
            all_fields=_fields(options) == ALL_FIELDS,
            as_list=options.flag("as_list"),
            ids=_as_list(options.get("ids"), "ids"),
            refresh=options.flag("refresh"),
        )
    if len(segments) > 3:
        raise NotFound("Resource not found: a record path is /_table/{table}/{id}.")
    table = segments[1]
    record_id = segments[2] if len(segments) == 3 and segments[2] != "" else None
    params = options.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest('params must be an object, e.g. {":status": "active"}.')
    filter_text = options.get("filter")
    if filter_text is not None and not isinstance(filter_text, str):
        raise BadRequest("filter must be a string.", context={"param": "filter"})
    filter_node = parse_filter(filter_text, params)
    id_field = _as_list(options.get("id_field"), "id_field")
    records = records_from_body(body) if body is not NO_BODY else None

    if verb == "GET":
        group = _as_list(options.get("group"), "group")
        fields, aggregates = _grouped_fields(options, group)
        ids = _ids(options)
        count_only = options.flag("count_only")
        by_keys = record_id is not None or ids is not None or bool(records)
        return TableRead(
            table=table,
            fields=fields,
            filter=filter_node,
            order=parse_order(options.get("order")),
            limit=_as_int(options.get("limit"), "limit"),
            offset=_offset(options.get("offset")),
            include_count=options.flag("include_count"),
            count_only=count_only,
            ids=ids,
            record_id=record_id,
            records=records,
            id_field=id_field,
            related=_related(options),
            continue_on_error=options.flag("continue"),
            as_list=options.flag("as_list"),
            refresh=options.flag("refresh"),
            group=group,
            aggregates=aggregates,
            having=_having(options, group, params),
            include_schema=options.flag("include_schema"),
            stream=stream_format(accept, query, single=by_keys or count_only),
        )
    mode = _mode(options)
    common: dict[str, Any] = {
        "table": table,
        "fields": _fields(options),
        "id_field": id_field,
        "mode": mode,
        "related": _related(options),
        "as_list": options.flag("as_list"),
        "allow_related_delete": options.flag("allow_related_delete"),
    }
    if verb == "POST":
        if record_id is not None:
            raise BadRequest("Create record by identifier not currently supported.")
        if body is NO_BODY or not records:
            raise BadRequest(NO_RECORDS)
        return TableWrite(action="create", records=records, **common)
    if verb in ("PUT", "PATCH"):
        if record_id is not None:
            if not isinstance(body, dict) or not body:
                raise BadRequest("The request contains no valid record fields.")
            record = body.get("resource", body) if isinstance(body.get("resource"), dict) else body
            return TableWrite(action="update", records=(record,), record_id=record_id, **common)
        ids = _ids(options)
        if ids is not None or filter_node is not None:
            if not records:
                raise BadRequest(NO_RECORDS)
            return TableWrite(
                action="update", records=records[:1], ids=ids, filter=filter_node, **common
            )
        if not records:
            raise BadRequest(NO_RECORDS)
        return TableWrite(action="update", records=records, **common)
    if verb == "DELETE":
        if record_id is not None:
            return TableWrite(action="delete", record_id=record_id, **common)
        ids = _ids(options)
        if ids is not None or filter_node is not None:
            return TableWrite(action="delete", ids=ids, filter=filter_node, **common)
        if records:
            return TableWrite(action="delete", records=records, **common)
        if options.flag("force"):
            return TableWrite(action="delete", force=True, **common)
        raise BadRequest("No filter or records given for delete request.")
    raise BadRequest(f"Method {verb} is not supported by this resource.")
