"""Stage 6 of the PostgREST dialect: its query grammar -> the same Plans as `/api/v2`.

The gateway's request stage (gateway/postgrest/request.py) reads the URL and headers into
`PgrstQuery`; this turns it into a TableRead (bind, compile and execute are shared). Pure: no
schema, no SQL. Reserved parameters are `select`, `order`, `limit` and `offset`; every other
parameter is a filter on the column it names (pgrst_filters.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.plan.filter_ast import And, Node
from services.plan.pgrst_embed import apply_embedded_params, is_embedded_param
from services.plan.pgrst_errors import not_supported, syntax_error
from services.plan.pgrst_filters import parse_condition
from services.plan.pgrst_logic import parse_logic
from services.plan.pgrst_select import json_fields, parse_order, parse_select_tree
from services.plan.types import EmbedRequest, OrderItem, SelectItem, StreamFormat, TableRead

_LOGIC = frozenset({"or", "and", "not.or", "not.and"})
_LATER = frozenset({"columns", "on_conflict"})  # write parameters: read with the writes
_MAX_ROWS = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PgrstQuery:
    """A PostgREST read as the request stage found it: the path's table, the query pairs in
    order (a column may be filtered twice), the `Range` header's rows and `Prefer: count`."""

    table: str
    pairs: tuple[tuple[str, str], ...]
    range_start: int | None = None
    range_end: int | None = None  # inclusive; None: open-ended
    count: bool = False
    stream: StreamFormat | None = None  # Accept: text/csv or application/x-ndjson


def _whole(name: str, text: str) -> int:
    if not text.isdigit() or int(text) > _MAX_ROWS:
        raise syntax_error(f"{name} parameter", text, 0, "a whole number of rows")
    return int(text)


def parse_pgrst_read(query: PgrstQuery) -> TableRead:
    """The TableRead of a PostgREST GET, or a 400 PGRST100 naming the part that is wrong."""
    select: tuple[SelectItem, ...] | None = None
    order: tuple[OrderItem, ...] = ()
    limit = offset = None
    conditions: list[Node] = []
    embeds: tuple[EmbedRequest, ...] = ()
    embedded: list[tuple[str, str]] = []  # `orders.status=eq.new`: applied to the embeds
    for key, value in query.pairs:
        if key == "select":
            select, embeds = parse_select_tree(value) if value.strip() else (None, ())
        elif key == "order":
            order = parse_order(value)
        elif key == "limit":
            limit = _whole("limit", value)
        elif key == "offset":
            offset = _whole("offset", value)
        elif key in _LOGIC:
            conditions.append(parse_logic(key, value))
        elif key in _LATER:
            raise not_supported(f"the {key} parameter", value)
        elif is_embedded_param(key):
            embedded.append((key, value))
        else:
            conditions.append(parse_condition(key, value))
    if offset is None:
        offset = query.range_start or 0
    if limit is None and query.range_end is not None:
        limit = query.range_end - (query.range_start or 0) + 1
    return TableRead(
        table=query.table,
        select=select,
        filter=json_fields(conditions[0] if len(conditions) == 1 else And(tuple(conditions)))
        if conditions
        else None,
        order=order,
        limit=limit,
        offset=offset,
        include_count=query.count,
        stream=query.stream,
        embeds=apply_embedded_params(embeds, embedded),
    )
