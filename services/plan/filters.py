"""Parse stage for DreamFactory's `filter` query parameter: filter text -> `filter_ast` nodes.

This module never builds SQL and never looks at the schema. Field names come back as the user
wrote them (quotes removed) and values as text or param values; `plan/bind.py` resolves both.

Grammar (keywords case-insensitive; precedence NOT > AND > OR; left to right)::

    filter    := or_expr
    or_expr   := and_expr (("OR" | "||") and_expr)*
    and_expr  := not_expr (("AND" | "&&") not_expr)*
    not_expr  := "NOT" not_expr | "(" or_expr ")" | condition
    condition := field cmp_or_pattern_op value
               | field ("IN" | "NOT IN" | "ALL") ("(" value ("," value)* ")" | :list_param)
               | field "IS" ["NOT"] "NULL"
               | field ["NOT"] "BETWEEN" value ("AND" | "&&") value

Fields and values tokenise differently (a double-quoted token is an identifier on the left and
a string on the right), so the scanner is driven by the parser, which asks for the kind of token
it expects next. Error positions are 0-based character offsets into the filter text.

Choices beyond DreamFactory: parentheses are optional (`a = 1 AND b = 2` is two conditions);
`a AND (b AND c)` flattens to one And; bare AND/OR/NOT/NOR/XOR cannot be field names (quote
them); an unquoted value may not contain `=`, `<` or `>` (so `a=b=c` and `a == 1` are errors,
`a = 'b=c'` is fine); a `:name` item inside a parenthesised list is one value even if its param
is a list (only a bare `IN :name` expands a list param).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NoReturn

from core.errors import BadRequest
from services.plan.filter_ast import (
    ALL_OPS,
    COMPARISON_OPS,
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

MAX_FILTER_LENGTH = 65536
MAX_NESTING = 64

INVALID_FILTER = "Invalid or unparsable filter request."
LIST_NEEDS_PARENS = "Filter value lists must be wrapped in parentheses."

# Symbolic comparison operators, longest first so ">=" wins over ">".
_SYMBOL_OPS = {">=": ">=", "<=": "<=", "!=": "!=", "<>": "!=", "=": "=", ">": ">", "<": "<"}
_WORD_COMPARISONS = {"EQ": "=", "NE": "!=", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<="}
# Word operators keyed by their upper-case words: ("NOT", "STARTS", "WITH") -> "not starts with".
_WORD_OPS: dict[tuple[str, ...], str] = {
    **{tuple(op.upper().split()): op for op in ALL_OPS - COMPARISON_OPS},
    **{(word,): op for word, op in _WORD_COMPARISONS.items()},
}
_MAX_OP_WORDS = max(len(words) for words in _WORD_OPS)

_IDENT = r"[A-Za-z_][A-Za-z0-9_$]*"
_WORD = re.compile(_IDENT)
_BARE_FIELD = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_PLACEHOLDER = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")
_RESERVED = frozenset({"AND", "OR", "NOT", "NOR", "XOR", "&&", "||"})
_FIELD_QUOTES = {'"': '"', "`": "`", "[": "]"}
_STRING_QUOTES = frozenset("'\"")
_BACKSLASH_ESCAPES = frozenset("'\"\\")
_VALUE_STOP = frozenset("(),")
_FIELD_STOP = frozenset("(),=<>!")
_NOT_IN_UNQUOTED = frozenset("=<>")


def parse_filter(text: str | None, params: Mapping[str, Any] | None = None) -> Node | None:
    """Parse a DreamFactory filter string into a filter AST; None when there is no filter."""
    if text is None:
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise BadRequest(
            f"The filter is too long ({len(text)} characters); "
            f"the limit is {MAX_FILTER_LENGTH} characters."
        )
    if not text.strip():
        return None
    try:
        return _Parser(text, params or {}).parse()
    except RecursionError:  # only reachable when called with an almost full stack
        raise _too_deep(0) from None


def _too_deep(pos: int) -> BadRequest:
    return BadRequest(
        f"The filter is nested too deeply; at most {MAX_NESTING} levels of parentheses "
        "and NOT are allowed.",
        context={"filter_error": f"nesting limit exceeded at position {pos}"},
    )


def _join(kind: type[And] | type[Or], items: list[Node]) -> Node:
    """One item stays as it is; nested nodes of the same kind are flattened into one."""
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


class _Parser:
    """Recursive descent over `text`, with `pos` as the scanner's cursor."""

    def __init__(self, text: str, params: Mapping[str, Any]) -> None:
        self.text = text
        self.end = len(text)
        self.pos = 0
        self.params = params
        self.depth = 0

    # --- errors -----------------------------------------------------------------------------

    def _fail(self, detail: str, pos: int) -> NoReturn:
        raise BadRequest(INVALID_FILTER, context={"filter_error": f"{detail} at position {pos}"})

    def _expected(self, what: str, pos: int) -> NoReturn:
        if pos >= self.end:
            found = "end of filter"
        else:
            stop = pos
            while stop < self.end and stop - pos < 20 and not self.text[stop].isspace():
                stop += 1
            found = f"'{self.text[pos:stop]}'"
        self._fail(f"expected {what}, found {found}", pos)

    def _bad_field(self, written: str, pos: int) -> NoReturn:
        shown = written if len(written) <= 100 else written[:100] + "..."
        raise BadRequest(
            f"Invalid or unparsable field in filter request: '{shown}'",
            context={"filter_error": f"expected a field name at position {pos}"},
        )

    # --- scanning ---------------------------------------------------------------------------

    def _skip_ws(self) -> int:
        """Move past whitespace and return the new position."""
        while self.pos < self.end and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos

    def _run_end(self, pos: int, stop: frozenset[str]) -> int:
        """End of the run of characters from `pos` up to whitespace or a `stop` character."""
        while pos < self.end and not self.text[pos].isspace() and self.text[pos] not in stop:
            pos += 1
        return pos

    def _quoted(self, start: int, closer: str, *, escapes: bool, what: str) -> tuple[str, int]:
        """Read a quoted token opening at `start`; return its content and the end position."""
        out: list[str] = []
        i = start + 1
        while i < self.end:
            ch = self.text[i]
            if ch == closer:
                if self.text.startswith(closer, i + 1):  # doubled closer: a literal one
                    out.append(closer)
                    i += 2
                    continue
                return "".join(out), i + 1
            if escapes and ch == "\\" and i + 1 < self.end:
                if self.text[i + 1] in _BACKSLASH_ESCAPES:
                    out.append(self.text[i + 1])
                    i += 2
                    continue
            out.append(ch)
            i += 1
        self._fail(f"unterminated {what} starting", start)

    def _logical(self) -> tuple[str, int] | None:
        """The AND/OR at the cursor (not consumed) with its end; NOR and XOR are refused."""
        pos = self._skip_ws()
        if self.text.startswith("&&", pos):
            return "AND", pos + 2
        if self.text.startswith("||", pos):
            return "OR", pos + 2
        match = _WORD.match(self.text, pos)
        word = match.group().upper() if match else ""
        if word in ("NOR", "XOR"):
            self._fail(
                f"{word} is not supported on PostgreSQL; rewrite it with AND, OR and NOT", pos
            )
        if word in ("AND", "OR") and match:
            return word, match.end()
        return None

    # --- grammar ----------------------------------------------------------------------------

    def parse(self) -> Node:
        node = self._or()
        pos = self._skip_ws()
        if pos < self.end:
            if self.text[pos] == ")":
                self._fail("unbalanced parentheses: ')' has no matching '('", pos)
            self._expected("AND, OR or the end of the filter", pos)
        return node

    def _or(self) -> Node:
        items = [self._and()]
        while (found := self._logical()) and found[0] == "OR":
            self.pos = found[1]
            items.append(self._and())
        return _join(Or, items)

    def _and(self) -> Node:
        items = [self._unary()]
        while (found := self._logical()) and found[0] == "AND":
            self.pos = found[1]
            items.append(self._unary())
        return _join(And, items)

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _too_deep(pos)

    def _unary(self) -> Node:
        pos = self._skip_ws()
        match = _BARE_FIELD.match(self.text, pos)
        if match and match.group().upper() == "NOT":
            self._enter(pos)
            self.pos = match.end()
            node: Node = Not(self._unary())
            self.depth -= 1
            return node
        if pos < self.end and self.text[pos] == "(":
            self._enter(pos)
            self.pos = pos + 1
            node = self._or()
            close = self._skip_ws()
            if close >= self.end or self.text[close] != ")":
                self._expected(f"AND, OR or ')' (closing the '(' from position {pos})", close)
            self.pos = close + 1
            self.depth -= 1
            return node
        return self._condition()

    def _condition(self) -> Condition:
        field = self._field()
        op = self._operator(field)
        value: Value | tuple[Value, ...] | None
        if op in NULL_OPS:
            value = None
        elif op in LIST_OPS:
            value = self._list(field, op)
        elif op in RANGE_OPS:
            low = self._value(op)
            pos = self._skip_ws()
            found = self._logical()
            if not found or found[0] != "AND":
                self._expected(f"AND between the two {op.upper()} values", pos)
            self.pos = found[1]
            value = (low, self._value(op))
        else:
            value = self._value(op)
        return Condition(field, op, value)

    def _field(self) -> str:
        start = self._skip_ws()
        if start >= self.end:
            self._expected("a condition", start)
        first = self.text[start]
        if first in _FIELD_QUOTES:
            name, self.pos = self._quoted(
                start, _FIELD_QUOTES[first], escapes=False, what="quoted field name"
            )
            if not name:
                self._bad_field(self.text[start : self.pos], start)
            return name
        if first == "'":
            _, stop = self._quoted(start, "'", escapes=True, what="string")
            self._bad_field(self.text[start:stop], start)
        stop = self._run_end(start, _FIELD_STOP)
        token = self.text[start:stop]
        if not token or token.upper() in _RESERVED:
            self._expected("a condition", start)
        if not _BARE_FIELD.fullmatch(token):
            self._bad_field(token, start)
        self.pos = stop
        return token

    def _operator(self, field: str) -> str:
        pos = self._skip_ws()
        for symbol, op in _SYMBOL_OPS.items():
            if self.text.startswith(symbol, pos):
                self.pos = pos + len(symbol)
                return op
        words: list[str] = []
        ends: list[int] = []
        i = pos
        while len(words) < _MAX_OP_WORDS and (match := _WORD.match(self.text, i)):
            words.append(match.group().upper())
            ends.append(match.end())
            i = match.end()
            while i < self.end and self.text[i].isspace():
                i += 1
            if i == match.end():  # the next word must be separated by whitespace
                break
        for count in range(len(words), 0, -1):
            word_op = _WORD_OPS.get(tuple(words[:count]))
            if word_op is not None:
                self.pos = ends[count - 1]
                return word_op
        self._expected(f"an operator after field '{field}'", pos)

    def _value(self, op: str, *, in_list: bool = False) -> Value:
        pos = self._skip_ws()
        if pos >= self.end or self.text[pos] in "),":
            self._expected(f"a value after '{op}'", pos)
        first = self.text[pos]
        if first in _STRING_QUOTES:
            raw, self.pos = self._quoted(pos, first, escapes=True, what="string")
            return Value(raw, quoted=True)
        if first == "(":
            if in_list:
                self._expected("a value (lists cannot be nested)", pos)
            if op in RANGE_OPS:
                self._fail(f"{op.upper()} takes two values: field {op.upper()} low AND high", pos)
            self._fail(f"'{op}' takes a single value; only IN, NOT IN and ALL take a list", pos)
        stop = self._run_end(pos, _VALUE_STOP)
        token = self.text[pos:stop]
        if first == ":":
            raw = self._param(token, pos)
            self.pos = stop
            return Value(raw, from_param=True)
        if first in _NOT_IN_UNQUOTED:
            self._expected(f"a value after '{op}'", pos)
        if any(ch in _NOT_IN_UNQUOTED for ch in token):
            self._fail(
                f"the unquoted value '{token}' contains '=', '<' or '>'; put it in quotes", pos
            )
        self.pos = stop
        return Value(None if token.lower() == "null" else token)

    def _param(self, token: str, pos: int) -> Any:
        """The params value for placeholder `token` (looked up as ':name', then 'name')."""
        if not _PLACEHOLDER.fullmatch(token):
            self._fail(
                f"'{token}' is not a valid :name placeholder; quote it if it is a value", pos
            )
        for key in (token, token[1:]):
            if key in self.params:
                return self.params[key]
        raise BadRequest(
            f"Filter parameter '{token}' was not found in params.",
            context={"filter_error": f"unknown placeholder {token} at position {pos}"},
        )

    def _list(self, field: str, op: str) -> tuple[Value, ...]:
        pos = self._skip_ws()
        if pos < self.end and self.text[pos] == "(":
            self.pos = pos + 1
            if self._skip_ws() < self.end and self.text[self.pos] == ")":
                raise self._empty_list(field, op, pos)
            items = [self._value(op, in_list=True)]
            while (after := self._skip_ws()) < self.end and self.text[after] == ",":
                self.pos = after + 1
                items.append(self._value(op, in_list=True))
            if after >= self.end or self.text[after] != ")":
                self._expected(f"',' or ')' in the {op.upper()} list", after)
            self.pos = after + 1
            return tuple(items)
        if pos < self.end and self.text[pos] == ":":
            stop = self._run_end(pos, _VALUE_STOP)
            token = self.text[pos:stop]
            raw = self._param(token, pos)
            if not isinstance(raw, list | tuple):
                raise BadRequest(
                    LIST_NEEDS_PARENS,
                    context={
                        "filter_error": f"parameter {token} must be a JSON list for "
                        f"{op.upper()} at position {pos}"
                    },
                )
            if not raw:
                raise self._empty_list(field, op, pos)
            self.pos = stop
            return tuple(Value(item, from_param=True) for item in raw)
        raise BadRequest(
            LIST_NEEDS_PARENS,
            context={
                "filter_error": f"expected '(' after {op.upper()}, e.g. {field} {op.upper()} "
                f"(1, 2), at position {pos}"
            },
        )

    def _empty_list(self, field: str, op: str, pos: int) -> BadRequest:
        return BadRequest(
            f"The {op.upper()} value list in the filter is empty; give at least one value, "
            f"e.g. {field} {op.upper()} (1, 2).",
            context={"filter_error": f"empty value list at position {pos}"},
        )
