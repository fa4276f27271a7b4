"""`{name}` substitution in text: known names are replaced, unknown ones stay as written, and
`{strtolower(name)}`-style modifiers apply one of DF's functions to the value (spec §7.6)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus


def _b64decode(text: str) -> str:
    try:
        return base64.b64decode(text.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


MODIFIERS: dict[str, Callable[[str], str]] = {
    "strtoupper": str.upper,
    "strtolower": str.lower,
    "ucfirst": lambda s: s[:1].upper() + s[1:],
    "lcfirst": lambda s: s[:1].lower() + s[1:],
    "ucwords": lambda s: re.sub(r"(^|\s)(\S)", lambda m: m.group(1) + m.group(2).upper(), s),
    "urlencode": lambda s: quote_plus(s, safe=""),
    "urldecode": unquote_plus,
    "rawurlencode": lambda s: quote(s, safe="-_.~"),
    "rawurldecode": unquote,
    "base64_encode": lambda s: base64.b64encode(s.encode()).decode(),
    "base64_decode": _b64decode,
    "trim": str.strip,
}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?"  # `name`, or `user.id` (one dot)
# `{name}` or `{modifier(name)}`: group 1 the modifier (or None), group 2 the name
TOKEN = re.compile(r"\{(?:(" + "|".join(MODIFIERS) + r")\((" + _NAME + r")\)|(" + _NAME + r"))\}")
TOKEN_BYTES = re.compile(TOKEN.pattern.encode())
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def token_name(match: re.Match[str]) -> str:
    """The lookup a token names (`user.email` in `{strtolower(user.email)}`)."""
    return match.group(2) or match.group(3)


def as_text(value: object) -> str:
    """A lookup value as spliced into text (`{user.is_sys_admin}` -> `true`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resolve(match: re.Match[str], values: Mapping[str, object]) -> object:
    """The token's value, its modifier applied (a string then); the token itself if unknown."""
    name = token_name(match)
    if name not in values:
        return match.group(0)
    value = values[name]
    modifier = match.group(1)
    return MODIFIERS[modifier](as_text(value)) if modifier else value


def fill(text: str, values: Mapping[str, object]) -> str:
    if "{" not in text:
        return text
    return TOKEN.sub(lambda m: as_text(resolve(m, values)), text)
