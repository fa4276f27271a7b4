"""PostgREST's parameters on embedded resources (`orders.status=eq.new`, `orders.order=id`,
`orders.limit=1`, `orders.offset=1`, nested `orders.order_items.qty=gt.1`) -> the EmbedRequest
tree the select parameter gave. Pure: no schema.

A path names embedded resources by their alias, else their name; a path that names no
embedded resource of the request is a 400 PGRST108, as in PostgREST.
"""

from __future__ import annotations

from dataclasses import replace

from core.errors import BadRequest
from services.plan.filter_ast import And
from services.plan.pgrst_errors import syntax_error
from services.plan.pgrst_filters import parse_condition
from services.plan.pgrst_logic import parse_logic
from services.plan.pgrst_select import json_fields, parse_order
from services.plan.types import EmbedRequest

_MAX_ROWS = 2**63 - 1
_LOGIC = frozenset({"or", "and", "not.or", "not.and"})


def is_embedded_param(key: str) -> bool:
    """A parameter about an embedded resource: `path.column`, `path.order`, `path.limit`..."""
    return "." in key and not key.startswith("not.")


def apply_embedded_params(
    embeds: tuple[EmbedRequest, ...], pairs: list[tuple[str, str]]
) -> tuple[EmbedRequest, ...]:
    """The embeds with each `path.name=value` pair applied to the resource `path` names."""
    for key, value in pairs:
        *path, last = _split_key(key)
        embeds = _apply(embeds, tuple(path), last, value, key)
    return embeds


def _split_key(key: str) -> list[str]:
    parts = key.split(".")
    # `path.not.or` is the negated logic tree of `path`
    if len(parts) > 2 and parts[-2] == "not" and parts[-1] in ("or", "and"):
        parts[-2:] = [f"not.{parts[-1]}"]
    return parts


def _apply(
    embeds: tuple[EmbedRequest, ...], path: tuple[str, ...], last: str, value: str, key: str
) -> tuple[EmbedRequest, ...]:
    head, rest = path[0], path[1:]
    for n, embed in enumerate(embeds):
        if embed.key == head:
            changed = (
                replace(embed, embeds=_apply(embed.embeds, rest, last, value, key))
                if rest
                else _set(embed, last, value, key)
            )
            return (*embeds[:n], changed, *embeds[n + 1 :])
    raise BadRequest(
        f"'{head}' is not an embedded resource in this request",
        context={
            "pgrst": "PGRST108",
            "hint": f"Verify that '{head}' is included in the 'select' query parameter.",
        },
    )


def _set(embed: EmbedRequest, last: str, value: str, key: str) -> EmbedRequest:
    if last == "order":
        return replace(embed, order=parse_order(value))
    if last == "limit":
        return replace(embed, limit=_whole(key, value))
    if last == "offset":
        return replace(embed, offset=_whole(key, value))
    node = json_fields(parse_logic(last, value) if last in _LOGIC else parse_condition(last, value))
    if embed.filter is None:
        return replace(embed, filter=node)
    items = embed.filter.items if isinstance(embed.filter, And) else (embed.filter,)
    return replace(embed, filter=And((*items, node)))


def _whole(key: str, text: str) -> int:
    if not text.isdigit() or int(text) > _MAX_ROWS:
        raise syntax_error(f"{key} parameter", text, 0, "a whole number of rows")
    return int(text)
