"""`filter` and `order` on system resources (spec §9.1): the data API's own parsers
(`plan/filters.py`, `plan/parse_table.py`) read the text; this module turns the result into a
Django `Q` and order expressions over a resource's record fields.

Registered with `core.record_query` when the services app is ready (core may not import
services). Values are converted to each field's type (400 naming the field); LIKE and the
CONTAINS / STARTS WITH / ENDS WITH forms match without regard to case, as DreamFactory's own
system database (SQLite or MySQL) does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.expressions import OrderBy
from django.db.models.functions import Cast
from django.db.models.lookups import IRegex
from django.utils import timezone

from core.errors import BadRequest
from core.flags import FALSE_WORDS, TRUE_WORDS
from services.plan.filter_ast import (
    LIST_OPS,
    NULL_OPS,
    RANGE_OPS,
    And,
    Condition,
    Node,
    Not,
    Or,
    Value,
)
from services.plan.filters import parse_filter
from services.plan.parse_table import parse_order

if TYPE_CHECKING:
    Field = models.Field[Any, Any]
else:
    Field = models.Field
Fields = Mapping[str, Field]


_COMPARISONS = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}
_PATTERNS = {"contains": "icontains", "starts with": "istartswith", "ends with": "iendswith"}
_TEXT_FIELDS = (models.CharField, models.TextField)
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_NOTHING = models.Q(pk__in=[])


def filter_q(text: str, params: Mapping[str, Any], fields: Fields) -> models.Q:
    """The filter text as a Q over `fields` (record name, lower-case -> model field)."""
    node = parse_filter(text, params)
    return models.Q() if node is None else _node(node, fields)


def order_by(text: str, fields: Fields) -> list[OrderBy]:
    """`field [asc|desc] [nulls first|last], ...` as order expressions over `fields`."""
    out = []
    for item in parse_order(text):
        field = fields.get(item.field.lower())
        if field is None:
            raise BadRequest(f"Invalid field '{item.field}' in order by clause.")
        ref = models.F(field.attname)
        nulls = {"nulls_first": True} if item.nulls == "first" else {}
        if item.nulls == "last":
            nulls = {"nulls_last": True}
        out.append(ref.desc(**nulls) if item.descending else ref.asc(**nulls))
    return out


def _node(node: Node, fields: Fields) -> models.Q:
    if isinstance(node, And | Or):
        parts = [_node(item, fields) for item in node.items]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if isinstance(node, And) else combined | part
        return combined
    if isinstance(node, Not):
        return ~_node(node.item, fields)
    return _condition(node, fields)


def _condition(cond: Condition, fields: Fields) -> models.Q:
    field = fields.get(cond.field.lower())
    if field is None:
        raise BadRequest(f"Invalid or unparsable field in filter request: '{cond.field}'")
    path, op = field.attname, cond.op
    if op in NULL_OPS:
        return models.Q(**{f"{path}__isnull": op == "is null"})
    if isinstance(cond.value, tuple):
        values = [_typed(field, cond.field, v) for v in cond.value]
        if op in LIST_OPS:
            if op == "all":
                return _all_equal(path, values)
            match = models.Q(**{f"{path}__in": [v for v in values if v is not None]})
            return match if op == "in" else _negated(match, field)
        if op in RANGE_OPS:
            match = models.Q(**{f"{path}__range": (values[0], values[1])})
            return match if op == "between" else _negated(match, field)
    value = cond.value if isinstance(cond.value, Value) else Value(None)
    if op in _COMPARISONS or op == "!=":
        typed = _typed(field, cond.field, value)
        if typed is None:  # `= null` reads as IS NULL; other comparisons with NULL match nothing
            return models.Q(**{f"{path}__isnull": op == "="}) if op in ("=", "!=") else _NOTHING
        if op == "!=":
            return _negated(models.Q(**{path: typed}), field)
        return models.Q(**{f"{path}__{_COMPARISONS[op]}": typed})
    negated = op.startswith("not ")
    match = _pattern(field, op.removeprefix("not "), "" if value.raw is None else str(value.raw))
    return _negated(match, field) if negated else match


def _all_equal(path: str, values: list[Any]) -> models.Q:
    distinct = {repr(v) for v in values}
    if None in values or len(distinct) != 1:
        return _NOTHING
    return models.Q(**{path: values[0]})


def _negated(match: models.Q, field: Field) -> models.Q:
    """NOT as SQL reads it: a NULL field matches neither the condition nor its negation."""
    return ~match & models.Q(**{f"{field.attname}__isnull": False}) if field.null else ~match


def _pattern(field: Field, op: str, text: str) -> models.Q:
    path = field.attname
    if isinstance(field, _TEXT_FIELDS):
        if op in _PATTERNS:
            return models.Q(**{f"{path}__{_PATTERNS[op]}": text})
        return models.Q(**{f"{path}__iregex": _like_regex(text)})
    regex = _like_regex(
        {"contains": f"%{text}%", "starts with": f"{text}%", "ends with": f"%{text}"}.get(op, text)
    )
    return models.Q(IRegex(Cast(path, output_field=models.TextField()), regex))


def _like_regex(pattern: str) -> str:
    """A LIKE pattern (`%` any run, `_` one character) as an anchored regular expression."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return "^" + "".join(parts) + "$"


def _typed(field: Field, name: str, value: Value) -> Any:
    """A filter value converted to the field's type; 400 naming the field if it is not one."""
    raw = value.raw
    if raw is None:
        return None
    if isinstance(field, models.BooleanField):
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise BadRequest(f"Field '{name}' must be a valid boolean.")
    if _is_integer(field):
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()):
            return int(raw)
        raise BadRequest(f"Field '{name}' must be a valid integer.")
    try:
        typed = field.to_python(raw)
    except ValidationError as exc:
        raise BadRequest(f"Field '{name}': {' '.join(exc.messages)}") from None
    if isinstance(typed, datetime) and settings.USE_TZ and timezone.is_naive(typed):
        typed = timezone.make_aware(typed, UTC)
    return typed


def _is_integer(field: Field) -> bool:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    return isinstance(target, models.IntegerField | models.AutoField)
