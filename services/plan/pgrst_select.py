"""PostgREST's `select` and `order` grammar -> SelectItems and OrderItems (pure text work).

    select = item ("," item)*    item = "*" | [alias ":"] field ["::" type]
    order  = term ("," term)*    term = field ["." asc|desc] ["." nullsfirst|nullslast]

    embed  = [alias ":"] name ["!" hint] ["!inner" | "!left"] "(" select ")"
    spread = "..." name ["!" hint] "(" select ")"

A field is a plain name or a "double-quoted" one, or a JSON path into one: `col->a->>b`
(`->>` only last; a select item's output name is then the last key).
"""

from __future__ import annotations

import re

from services.plan.filter_ast import And, Condition, JsonPath, Node, Not, Or
from services.plan.pgrst_errors import not_supported, syntax_error
from services.plan.types import EmbedRequest, NullsOrder, OrderItem, SelectItem

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
    """`select=` as SelectItems in order (no embedded resources); `*`: every column."""
    items, embeds = parse_select_tree(text)
    if embeds:
        raise not_supported("embedding resources here", text)
    return items


def parse_select_tree(
    text: str, base: int = 0, whole: str | None = None
) -> tuple[tuple[SelectItem, ...], tuple[EmbedRequest, ...]]:
    """`select=` as its columns (SelectItems, in order) and its embedded resources."""
    what, whole = "select parameter", text if whole is None else whole
    items: list[SelectItem] = []
    embeds: list[EmbedRequest] = []
    for offset, part in split_top(what, text):
        stripped = part.strip()
        if stripped == "*":
            items.append(SelectItem("*"))
            continue
        if stripped.startswith("...") or "(" in part:
            embeds.append(_embed(whole, base + offset, part))
            continue
        if "->" in part:
            items.append(_json_item(whole, base + offset, part))
            continue
        alias = None
        name, end = read_name(what, whole, base + offset, part)
        rest = part[end:]
        if rest.startswith(":") and not rest.startswith("::"):
            alias = name
            name, end2 = read_name(what, whole, base + offset + end + 1, rest[1:])
            end, rest = end + 1 + end2, rest[1 + end2 :]
        cast_to = None
        if rest.startswith("::"):
            cast_to = _type_name(what, whole, base + offset + end + 2, rest[2:])
            rest = ""
        if rest.strip():
            raise syntax_error(what, whole, base + offset + end, '",", "::" or end of input')
        items.append(SelectItem(name, alias, cast_to))
    return tuple(items), tuple(embeds)


def _embed(whole: str, offset: int, part: str) -> EmbedRequest:
    """`[alias:]name[!hint][!inner|!left](select)` or `...name[!hint](select)`."""
    what = "select parameter"
    lead = len(part) - len(part.lstrip())
    head_start = offset + lead
    body = part.strip()
    spread = body.startswith("...")
    if spread:
        body, head_start = body[3:], head_start + 3
    opening = _opening(body)
    if opening < 0 or not body.endswith(")"):
        raise syntax_error(what, whole, head_start + len(body), '"(" a select list ")"')
    head, inner = body[:opening], body[opening + 1 : -1]
    name, end = read_name(what, whole, head_start, head)
    alias = None
    if head[end:].startswith(":") and not spread:
        alias = name
        name, end2 = read_name(what, whole, head_start + end + 1, head[end + 1 :])
        end += 1 + end2
    hint, inner_join = None, False
    for modifier in head[end:].split("!")[1:] if head[end:] else ():
        word = modifier.strip()
        if word in ("inner", "left"):
            inner_join = word == "inner"
        elif word and hint is None:
            hint = word
        else:
            raise syntax_error(what, whole, head_start + end, "a foreign key hint or inner")
    if head[end:] and not head[end:].startswith("!"):
        raise syntax_error(what, whole, head_start + end, '"!", ":" or "("')
    items, embeds = (
        parse_select_tree(inner, head_start + opening + 1, whole) if inner.strip() else ((), ())
    )
    return EmbedRequest(name, alias, hint, inner_join, spread, select=items, embeds=embeds)


def _opening(body: str) -> int:
    """Where the first `(` outside double quotes is (-1: none)."""
    quoted = False
    for i, char in enumerate(body):
        if char == '"':
            quoted = not quoted
        elif char == "(" and not quoted:
            return i
    return -1


_DIRECTIONS = {"asc": False, "desc": True}
_NULLS: dict[str, NullsOrder] = {"nullsfirst": "first", "nullslast": "last"}


def parse_order(text: str) -> tuple[OrderItem, ...]:
    """`order=` as OrderItems: `field[.asc|.desc][.nullsfirst|.nullslast]`, comma-separated."""
    what = "order parameter"
    items: list[OrderItem] = []
    for offset, part in split_top(what, text):
        if "(" in part:
            raise not_supported("ordering by embedded resources", text)
        path = None
        if "->" in part:  # `col->a->>b.desc`: the path runs to the first "." after its keys
            dot = part.find(".", part.rfind("->"))
            end = dot if dot >= 0 else len(part)
            name, path = split_json(what, text, offset, part[:end])
        else:
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
        items.append(OrderItem(name, descending, nulls, path))
    return tuple(items)


def _json_item(whole: str, offset: int, part: str) -> SelectItem:
    """`[alias:]col->a->>b[::type]`: a value inside a json/jsonb column."""
    what = "select parameter"
    alias = None
    name, end = read_name(what, whole, offset, part)
    body, at = part, offset
    if part[end:].startswith(":") and not part[end:].startswith("::"):
        alias, body, at = name, part[end + 1 :], offset + end + 1
    cast = None
    if "::" in body:
        body, _, given = body.partition("::")
        cast = _type_name(what, whole, at + len(body) + 2, given)
    column, path = split_json(what, whole, at, body)
    return SelectItem(column, alias, cast, path)


def split_json(what: str, text: str, offset: int, part: str) -> tuple[str, JsonPath | None]:
    """`col->a->>b` as the column's name and the path into it (None: a plain name)."""
    at = part.find("->")
    if at < 0:
        name, end = read_name(what, text, offset, part)
        if part[end:].strip():
            raise syntax_error(what, text, offset + end, '"->", "->>" or end of input')
        return name, None
    name, end = read_name(what, text, offset, part[:at])
    if part[end:at].strip():
        raise syntax_error(what, text, offset + end, '"->" or "->>"')
    keys: list[str] = []
    as_text = False
    position = offset + at
    for step in part[at + 2 :].split("->"):
        if as_text:  # text has no keys: `->>` ends a path
            raise syntax_error(what, text, position, "end of the JSON path after ->>")
        if step.startswith(">"):
            as_text, step = True, step[1:]
            position += 1
        key = step.strip()
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1].replace('""', '"')
        if not key:
            raise syntax_error(what, text, position + 2, "a JSON key")
        keys.append(key)
        position += len(step) + 2
    return name, JsonPath(tuple(keys), as_text)


def json_fields(node: Node) -> Node:
    """A filter tree whose `col->a->>b` fields are read as a column and a JSON path."""
    if isinstance(node, Condition):
        if "->" not in node.field:
            return node
        name, path = split_json("filter", node.field, 0, node.field)
        return Condition(name, node.op, node.value, path)
    if isinstance(node, Not):
        return Not(json_fields(node.item))
    if isinstance(node, And):
        return And(tuple(json_fields(i) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(json_fields(i) for i in node.items))
    return node
