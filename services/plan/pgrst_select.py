"""PostgREST's `select` and `order` grammar -> SelectItems and OrderItems (pure text work).

    select = item ("," item)*    item = "*" | [alias ":"] field ["::" type]
    order  = term ("," term)*    term = field ["." asc|desc] ["." nullsfirst|nullslast]

A field is a plain name or a "double-quoted" one. Embedding (`rel(...)`), spread (`...rel`) and
JSON paths (`a->b`) are PostgREST grammar this gateway does not read yet: a 400 PGRST100 says so.
"""

from __future__ import annotations

import re

from services.plan.pgrst_errors import not_supported, syntax_error
from services.plan.types import NullsOrder, OrderItem, SelectItem

_NAME = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^\s",:().!>-][^",:().!>]*?))\s*(?=$|[,:().!>])')
_CAST = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*(\[\])?\s*$")
# PostgreSQL's spellings of types whose catalog name differs (a cast names the type quoted)
_TYPE_NAMES = {
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
    "real": "float4",
    "double precision": "float8",
    "float": "float8",
    "decimal": "numeric",
    "character varying": "varchar",
    "character": "bpchar",
    "char": "bpchar",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}


def split_top(what: str, text: str) -> list[tuple[int, str]]:
    """`text` split at the commas outside parentheses and double quotes: (offset, part)."""
    parts: list[tuple[int, str]] = []
    depth, quoted, start = 0, False, 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise syntax_error(what, text, i, '"," or end of input')
        elif char == "," and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    if quoted or depth:
        raise syntax_error(what, text, len(text), '"\\"" or ")"' if quoted else '")"')
    parts.append((start, text[start:]))
    return parts


def read_name(what: str, text: str, offset: int, part: str) -> tuple[str, int]:
    """A field name at the start of `part`, and where it ends (a 400 when there is none)."""
    match = _NAME.match(part)
    if match is None:
        raise syntax_error(what, text, offset, "field name")
    quoted, plain = match.group(1), match.group(2)
    return (quoted.replace('""', '"') if quoted is not None else plain.strip()), match.end()


def _type_name(what: str, text: str, offset: int, given: str) -> str:
    match = _CAST.match(given)
    if match is None:
        raise syntax_error(what, text, offset, "a type name")
    name = " ".join(match.group(1).lower().split())
    return _TYPE_NAMES.get(name, name) + (match.group(2) or "")


def parse_select(text: str) -> tuple[SelectItem, ...]:
    """`select=` as SelectItems in order; `*` stands for every column."""
    what = "select parameter"
    items: list[SelectItem] = []
    for offset, part in split_top(what, text):
        stripped = part.strip()
        if stripped == "*":
            items.append(SelectItem("*"))
            continue
        if stripped.startswith("...") or "(" in part:
            raise not_supported("embedding resources in the select parameter", text)
        if "->" in part:
            raise not_supported("JSON paths in the select parameter", text)
        alias = None
        name, end = read_name(what, text, offset, part)
        rest = part[end:]
        if rest.startswith(":") and not rest.startswith("::"):
            alias = name
            name, end2 = read_name(what, text, offset + end + 1, rest[1:])
            end, rest = end + 1 + end2, rest[1 + end2 :]
        cast_to = None
        if rest.startswith("::"):
            cast_to = _type_name(what, text, offset + end + 2, rest[2:])
            rest = ""
        if rest.strip():
            raise syntax_error(what, text, offset + end, '",", "::" or end of input')
        items.append(SelectItem(name, alias, cast_to))
    return tuple(items)


_DIRECTIONS = {"asc": False, "desc": True}
_NULLS: dict[str, NullsOrder] = {"nullsfirst": "first", "nullslast": "last"}


def parse_order(text: str) -> tuple[OrderItem, ...]:
    """`order=` as OrderItems: `field[.asc|.desc][.nullsfirst|.nullslast]`, comma-separated."""
    what = "order parameter"
    items: list[OrderItem] = []
    for offset, part in split_top(what, text):
        if "->" in part:
            raise not_supported("JSON paths in the order parameter", text)
        if "(" in part:
            raise not_supported("ordering by embedded resources", text)
        name, end = read_name(what, text, offset, part)
        descending, nulls = False, None
        modifiers = part[end:].split(".")[1:] if part[end:] else []
        if part[end:] and not part[end:].startswith("."):
            raise syntax_error(what, text, offset + end, '"." or ","')
        position = offset + end + 1
        for n, modifier in enumerate(modifiers):
            word = modifier.strip().lower()
            if n == 0 and word in _DIRECTIONS:
                descending = _DIRECTIONS[word]
            elif word in _NULLS and nulls is None:
                nulls = _NULLS[word]
            else:
                raise syntax_error(
                    what, text, position, '"asc", "desc", "nullsfirst" or "nullslast"'
                )
            position += len(modifier) + 1
        items.append(OrderItem(name, descending, nulls))
    return tuple(items)
