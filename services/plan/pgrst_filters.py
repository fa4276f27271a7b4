"""PostgREST's horizontal filters (`col=[not.]op.value`) -> the filter AST (filter_ast.py).

Each query parameter that is not a reserved word is one condition on the column it names;
several are ANDed. Values stay text: bind coerces them for their column, as for `/api/v2`.
Operators PostgREST has and this gateway does not read yet answer 400 PGRST100, as does any
word that is no operator at all: a condition is never dropped.
"""

from __future__ import annotations

from services.plan.filter_ast import And, Condition, Node, Not, Value
from services.plan.pgrst_errors import not_supported, syntax_error
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
# PostgREST's other operators: known words, not read here yet (stage 2 of issue #14)
_LATER = frozenset(
    {
        "match",
        "imatch",
        "isdistinct",
        "fts",
        "plfts",
        "phfts",
        "wfts",
        "cs",
        "cd",
        "ov",
        "sl",
        "sr",
        "nxr",
        "nxl",
        "adj",
    }
)
_EXPECTING = '"not" or an operator (eq, neq, gt, gte, lt, lte, like, ilike, in, is)'


def parse_condition(field: str, text: str) -> Node:
    """One `field=[not.]op.value` filter as an AST node."""
    what = "filter"
    negated = text.startswith("not.")
    body = text[4:] if negated else text
    start = 4 if negated else 0
    op, dot, value = body.partition(".")
    if "(" in op and op.split("(", 1)[0] in (*_COMPARE, *_PATTERN, *_LATER):
        raise not_supported("the any/all operator modifiers", text)
    if op in _LATER:
        raise not_supported(f"the {op} operator", text)
    if not dot or not (op in _COMPARE or op in _PATTERN or op in ("in", "is")):
        raise syntax_error(what, text, start, _EXPECTING)
    node: Node
    if op in _COMPARE:
        node = Condition(field, _COMPARE[op], Value(value, quoted=True))
    elif op in _PATTERN:  # PostgREST's `*` is SQL's `%`
        node = Condition(field, _PATTERN[op], Value(value.replace("*", "%"), quoted=True))
    elif op == "is":
        word = value.lower()
        if word not in _IS:
            raise syntax_error(what, text, start + 3, "null, not_null, true, false or unknown")
        node = Condition(field, _IS[word], None)
    else:
        node = _in_list(field, text, start + 3, value)
    return Not(node) if negated else node


def _in_list(field: str, text: str, offset: int, value: str) -> Node:
    """`in.(a,b,"c,d")`; an empty list matches no row (as in PostgREST)."""
    if not (value.startswith("(") and value.endswith(")")):
        raise syntax_error("filter", text, offset, '"(" a list of values ")"')
    inner = value[1:-1]
    if not inner.strip():  # IN () is no SQL: a condition no row meets
        return And((Condition(field, "is null", None), Condition(field, "is not null", None)))
    items = tuple(Value(_unquote(part), quoted=True) for _, part in split_top("filter", inner))
    return Condition(field, "in", items)


def _unquote(part: str) -> str:
    """A list item: "double-quoted" (with backslash escapes) keeps commas and parentheses."""
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
