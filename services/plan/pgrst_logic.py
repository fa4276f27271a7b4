"""PostgREST's logic trees (`or=(a.eq.1,and(b.gt.2,c.lt.3))`) -> the filter AST.

A tree is a parenthesised, comma-separated list of items; an item is a filter written
`field.[not.]op.value` or a nested `[not.]and(...)` / `[not.]or(...)`. A value holding PostgREST's
reserved characters (`,` `.` `:` `(` `)`) is double-quoted: `name.eq."a,b"`; list, array and
range values keep their brackets (`id.in.(1,2)`, `tags.cs.{a,b}`, `span.ov.[1,5)`). Any text
that does not parse answers 400 PGRST100 with its position: nothing is dropped.
"""

from __future__ import annotations

from services.plan.filter_ast import And, Node, Not, Or
from services.plan.pgrst_errors import syntax_error
from services.plan.pgrst_filters import parse_condition, unquote

_WHAT = "logic tree"
_KEYS = frozenset({"or", "and", "not.or", "not.and"})


def is_logic_key(key: str) -> bool:
    """Whether a query parameter's name is a logic operator (`or`, `and`, `not.or`, `not.and`)."""
    return key in _KEYS


def parse_logic(key: str, text: str) -> Node:
    """The tree of one `or=(...)` / `and=(...)` / `not.or=(...)` / `not.and=(...)` parameter.

    For an embedded resource (`orders.or=(...)`) the caller passes the last part of the key
    (`or`) and the value; the fields stay the user's names, bound against that table later.
    """
    negated = key.startswith("not.")
    word = key[4:] if negated else key
    if word not in ("or", "and"):
        raise syntax_error(_WHAT, key, 0, '"or", "and", "not.or" or "not.and"')
    whole = f"{key}={text}"
    node = _group(word, text, whole, len(key) + 1)
    return Not(node) if negated else node


def _group(word: str, text: str, whole: str, at: int) -> Node:
    """`(item,item,...)` joined by `word`; `at` is where `text` starts in `whole`."""
    if not text.startswith("("):
        return _fail(whole, at, '"(" a list of conditions ")"')
    if not text.endswith(")"):
        return _fail(whole, at + len(text), '")"')
    inner = text[1:-1]
    if not inner.strip():
        return _fail(whole, at + 1, "a condition")
    items = tuple(
        _item(part, whole, at + 1 + offset) for offset, part in _split(inner, whole, at + 1)
    )
    if len(items) == 1:
        return items[0]
    return Or(items) if word == "or" else And(items)


def _item(part: str, whole: str, at: int) -> Node:
    negated = part.startswith("not.")
    body = part[4:] if negated else part
    for word in ("or", "and"):
        if body.startswith(word + "("):
            node = _group(word, body[len(word) :], whole, at + (4 if negated else 0) + len(word))
            return Not(node) if negated else node
    field, dot, rest = part.partition(".")
    if not field.strip() or not dot:
        return _fail(whole, at + len(field), '"." after a field name, or "and(" / "or("')
    rest_at = at + len(field) + 1
    return parse_condition(
        field.strip(), _unquoted_value(rest), what=_WHAT, whole=whole, at=rest_at
    )


def _unquoted_value(rest: str) -> str:
    """`[not.]op.value` with a double-quoted value unquoted (lists keep their quotes: the
    `in` parser reads them)."""
    prefix = "not." if rest.startswith("not.") else ""
    op, dot, value = rest[len(prefix) :].partition(".")
    if dot and len(value) >= 2 and value[0] == value[-1] == '"':
        return f"{prefix}{op}.{unquote(value)}"
    return rest


def _split(text: str, whole: str, at: int) -> list[tuple[int, str]]:
    """`text` cut at the commas outside quotes and brackets: (offset, part). Brackets are
    counted, not matched, so half-open range literals such as `[1,5)` stay whole."""
    parts: list[tuple[int, str]] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for i, char in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                _fail(whole, at + i, '"," or end of the list')
        elif char == "," and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    if quoted:
        _fail(whole, at + len(text), 'a closing "\\""')
    if depth:  # the closing parenthesis taken for the list's own was an inner one's
        _fail(whole, len(whole), '")"')
    parts.append((start, text[start:]))
    return parts


def _fail(whole: str, position: int, expecting: str) -> Node:
    raise syntax_error(_WHAT, whole, position, expecting)
