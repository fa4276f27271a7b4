"""PostgREST's horizontal filters (`col=[not.]op[(any|all)].value`) -> the filter AST.

Each query parameter that is not a reserved word is one condition on the column it names;
several are ANDed. Values stay text: bind coerces them for their column (and checks that the
column's type takes the operator), as for `/api/v2`. A word that is no operator answers 400
PGRST100 with its position: a condition is never dropped.
"""

from __future__ import annotations

import re

from services.plan.filter_ast import FTS_OPS, PGRST_OPS, And, Condition, Node, Not, Or, Value
from services.plan.pgrst_errors import syntax_error
from services.plan.pgrst_select import split_top

# PostgREST operator -> the AST's operator
_COMPARE = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERN = {"like": "like", "ilike": "ilike"}
_IS = {
    "null": "is null",
    "not_null": "is not null",
    "true": "is true",
    "false": "is false",
    "unknown": "is null",
}
# the operators PostgREST takes `(any)` / `(all)` on, with a `{a,b}` list of values
_QUANTIFIED = frozenset({"eq", "gt", "gte", "lt", "lte", "like", "ilike", "match", "imatch"})
_OPERATORS = frozenset({*_COMPARE, *_PATTERN, *PGRST_OPS, "in", "is"})
_LANGUAGE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXPECTING = (
    '"not" or an operator (eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, '
    "isdistinct, fts, plfts, phfts, wfts, cs, cd, ov, sl, sr, nxr, nxl, adj)"
)


class _Source:
    """Where a filter's text sits, for error positions: in its own parameter, or inside a
    logic tree (`whole`, starting at `at`)."""

    __slots__ = ("at", "what", "whole")

    def __init__(self, what: str, whole: str, at: int) -> None:
        self.what, self.whole, self.at = what, whole, at

    def error(self, position: int, expecting: str) -> Exception:
        return syntax_error(self.what, self.whole, self.at + position, expecting)


def parse_condition(
    field: str, text: str, *, what: str = "filter", whole: str | None = None, at: int = 0
) -> Node:
    """One `field=[not.]op.value` filter as an AST node (`whole`/`at`: the logic tree the
    text was cut from, for the error's position)."""
    src = _Source(what, text if whole is None else whole, at)
    negated = text.startswith("not.")
    start = 4 if negated else 0
    op, dot, value = text[start:].partition(".")
    modifier = ""
    if "(" in op and op.endswith(")"):
        op, _, modifier = op[:-1].partition("(")
    if op not in _OPERATORS or not dot:
        raise src.error(start, _EXPECTING)
    value_at = start + len(text[start:].partition(".")[0]) + 1
    node = _operator(field, op, modifier, value, src, start, value_at)
    return Not(node) if negated else node


def _operator(
    field: str, op: str, modifier: str, value: str, src: _Source, start: int, value_at: int
) -> Node:
    if modifier and op in FTS_OPS:
        if not _LANGUAGE.match(modifier):
            raise src.error(start + len(op) + 1, "a text search language, e.g. english")
        return Condition(field, op, (Value(modifier, quoted=True), Value(value, quoted=True)))
    if modifier:
        if op not in _QUANTIFIED or modifier not in ("any", "all"):
            raise src.error(
                start + len(op),
                '"." (any/all modifiers: eq, gt, gte, lt, lte, like, ilike, match, imatch)',
            )
        return _quantified(field, op, modifier, value, src, value_at)
    if op in FTS_OPS:
        return Condition(field, op, (Value(None), Value(value, quoted=True)))
    if op == "is":
        word = value.lower()
        if word not in _IS:
            raise src.error(value_at, "null, not_null, true, false or unknown")
        return Condition(field, _IS[word], None)
    if op == "in":
        return _in_list(field, value, src, value_at)
    return _single(field, op, value)


def _single(field: str, op: str, value: str) -> Condition:
    if op in _COMPARE:
        return Condition(field, _COMPARE[op], Value(value, quoted=True))
    if op in _PATTERN:  # PostgREST's `*` is SQL's `%`
        return Condition(field, _PATTERN[op], Value(value.replace("*", "%"), quoted=True))
    return Condition(field, op, Value(value, quoted=True))


def _quantified(
    field: str, op: str, modifier: str, value: str, src: _Source, value_at: int
) -> Node:
    """`eq(any).{a,b}`: one condition per value, ORed (any) or ANDed (all)."""
    if not (value.startswith("{") and value.endswith("}")):
        raise src.error(value_at, '"{" a list of values "}"')
    inner = value[1:-1]
    parts = [] if not inner.strip() else split_top(src.what, inner)
    items = tuple(_single(field, op, unquote(part)) for _, part in parts)
    if modifier == "any":  # no value: no row matches
        return Or(items) if items else _nothing(field)
    return And(items) if items else Or((_nothing(field), Not(_nothing(field))))


def _nothing(field: str) -> Node:
    """A condition no row meets (SQL has no empty IN list)."""
    return And((Condition(field, "is null", None), Condition(field, "is not null", None)))


def _in_list(field: str, value: str, src: _Source, value_at: int) -> Node:
    """`in.(a,b,"c,d")`; an empty list matches no row (as in PostgREST)."""
    if not (value.startswith("(") and value.endswith(")")):
        raise src.error(value_at, '"(" a list of values ")"')
    inner = value[1:-1]
    if not inner.strip():
        return _nothing(field)
    items = tuple(Value(unquote(part), quoted=True) for _, part in split_top(src.what, inner))
    return Condition(field, "in", items)


def unquote(part: str) -> str:
    """A value: "double-quoted" (with backslash escapes) keeps commas and parentheses."""
    item = part.strip()
    if len(item) >= 2 and item[0] == item[-1] == '"':
        out, escaped = [], False
        for char in item[1:-1]:
            if escaped or char != "\\":
                out.append(char)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    return item
