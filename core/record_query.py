"""Read options of the system API (spec §9.1): which records (`ids`, `filter`), in what order
(`order`, else primary key ascending), which page (`limit`, `offset`), and the options a JSON
body may carry instead of the query string (spec §1.3), e.g. a GET tunnelled through POST.

The filter and order grammars are the data API's (in services); services registers the two
translators here when it is ready (`use_translators`), as core may not import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.expressions import OrderBy

from core.errors import BadRequest, InternalError

if TYPE_CHECKING:
    Field = models.Field[Any, Any]
else:
    Field = models.Field
Fields = Mapping[str, Field]

FilterTranslator = Callable[[str, Mapping[str, Any], Fields], models.Q]
OrderTranslator = Callable[[str, Fields], list[OrderBy]]

# query (and body) option names and their aliases (spec §3.2) -> the canonical name
OPTION_NAMES = {
    "fields": "fields",
    "select": "fields",
    "related": "related",
    "ids": "ids",
    "filter": "filter",
    "where": "filter",
    "params": "params",
    "limit": "limit",
    "top": "limit",
    "offset": "offset",
    "skip": "offset",
    "order": "order",
    "sort": "order",
    "order_by": "order",
    "include_count": "include_count",
    "count_only": "count_only",
    "continue": "continue",
    "rollback": "rollback",
}
MAX_IDS = 10_000

_translators: dict[str, Any] = {}


def use_translators(filter_q: FilterTranslator, order_by: OrderTranslator) -> None:
    """Called once by the services app: the filter and order translators."""
    _translators["filter"] = filter_q
    _translators["order"] = order_by


def _translator(kind: str) -> Any:
    found = _translators.get(kind)
    if found is None:  # pragma: no cover - the services app registers them at start-up
        raise InternalError(f"No {kind} translator is registered for the system API.")
    return found


def request_options(query: Mapping[str, Any], body: Any, *, body_options: bool) -> dict[str, Any]:
    """The options by canonical name: the query string wins over the body's top-level keys,
    which count when `body_options` (a wrapped body, or a GET/DELETE body, not a record)."""
    options: dict[str, Any] = {}
    if body_options and isinstance(body, dict):
        for key, value in body.items():
            name = OPTION_NAMES.get(key)
            if name is not None and value is not None:
                options.setdefault(name, value)
    from_query: dict[str, Any] = {}
    for key in query:
        name = OPTION_NAMES.get(key)
        if name is not None:
            from_query.setdefault(name, query.get(key))
    options.update(from_query)
    return options


def id_list(value: Any) -> list[int]:
    """`ids` as a comma list or a JSON array, in the order given, each once; 400 if not ids."""
    if value is None or value == "":
        return []
    items: Iterable[Any]
    if isinstance(value, list | tuple):
        items = value
    else:
        items = str(value).split(",")
    out: list[int] = []
    for item in items:
        if isinstance(item, dict) and "id" in item:  # a record list given as `ids`
            item = item["id"]
        text = str(item).strip()
        if isinstance(item, bool) or not text.lstrip("+-").isdigit():
            if text == "":
                continue
            raise BadRequest("ids must be a comma-separated list of integers.")
        pk = int(text)
        if pk not in out:
            out.append(pk)
    if len(out) > MAX_IDS:
        raise BadRequest(f"Too many ids: at most {MAX_IDS} per request.")
    return out


def as_int(value: Any) -> int:
    """DF casts limit and offset to integers: junk is 0."""
    try:
        return int(str(value).strip()) if value is not None else 0
    except ValueError:
        return 0


def _params(value: Any) -> Mapping[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadRequest("params must be a JSON object of filter values.") from None
    if not isinstance(value, dict):
        raise BadRequest("params must be a JSON object of filter values.")
    return value


def filtered(rows: models.QuerySet[Any], options: Mapping[str, Any], fields: Fields) -> Any:
    """`rows` narrowed by the `filter` option (the data API's grammar), if any."""
    text = options.get("filter")
    if text is None or not str(text).strip():
        return rows
    q = _translator("filter")(str(text), _params(options.get("params")), fields)
    return rows.filter(q)


def ordered(rows: models.QuerySet[Any], options: Mapping[str, Any], fields: Fields) -> Any:
    """`rows` in the `order` option's order, then by primary key (the default, as in DF)."""
    text = options.get("order")
    exprs = _translator("order")(str(text), fields) if text not in (None, "") else []
    return rows.order_by(*exprs, "pk")


def page(rows: models.QuerySet[Any], options: Mapping[str, Any]) -> Any:
    """`offset` and `limit` (missing, < 1 or above the instance cap: the cap)."""
    cap = int(getattr(settings, "GATEWAY_MAX_RECORDS_CAP", 100_000))
    limit = as_int(options.get("limit"))
    if limit < 1 or limit > cap:
        limit = cap
    offset = max(0, as_int(options.get("offset")))
    return rows[offset : offset + limit]


def query_fields(
    model: type[models.Model], names: Iterable[str]
) -> dict[str, models.Field[Any, Any]]:
    """Record field names (lower-case) -> the model fields they read, for filter and order:
    `id` is the primary key; names that are not stored fields (computed ones) are left out."""
    out: dict[str, Field] = {}
    for name in names:
        if name == "id":
            pk = model._meta.pk
            if pk is not None:
                out["id"] = pk
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:  # a computed record key
            continue
        if isinstance(field, models.Field) and field.concrete and not field.many_to_many:
            out[name.lower()] = field
    return out
