"""Read a request's JSON body: size-limited, exact decimals, a 400 that says where it broke.

Python's JSON parser accepts an escaped lone surrogate ("\\ud800"), which no database can store
(it is not a Unicode character): such a body is refused here, naming where the string is, so
it never reaches a driver that fails with a 500.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from core.errors import BadRequest

# an escaped UTF-16 surrogate somewhere in the raw text: only then is the parsed value walked
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: bytes | str, *, exact_numbers: bool = True) -> Any:
    """JSON text as Python values, or a 400 that says where and why it is not acceptable.

    `exact_numbers`: fractions become Decimal (data API values), else float (system API)."""
    try:
        value = json.loads(
            raw, parse_float=Decimal if exact_numbers else float, parse_constant=_not_json
        )
    except RecursionError:
        raise BadRequest(
            "Malformed JSON in request body: it is nested too deeply.",
            context={"body": "nest objects and arrays at most a few hundred levels deep"},
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" at line {exc.lineno} column {exc.colno}"
        raise BadRequest(
            f"Malformed JSON in request body{where}: {getattr(exc, 'msg', str(exc))}.",
            context={"body": "the request body must be valid JSON (UTF-8)"},
        ) from None
    encoded = raw.encode(errors="surrogatepass") if isinstance(raw, str) else raw
    if _ESCAPED_SURROGATE.search(encoded):
        found = lone_surrogate_at(value)
        if found is not None:
            raise BadRequest(
                f"Invalid string in request body at {found}: it holds a lone UTF-16 surrogate "
                "(an escape from \\ud800 to \\udfff without its pair), which is not a Unicode "
                "character. Send the character itself, or both halves of its surrogate pair.",
                context={"body": found},
            )
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (send null, or the number as a string)")


def lone_surrogate_at(value: Any) -> str | None:
    """The path (`resource[0].name`) of the first string or key holding a lone surrogate."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path or "the top level"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                child_path = f"{path}.{key}" if path else str(key)
                if _SURROGATE.search(key):
                    return f"{path or 'the top level'} (a key)"
                stack.append((child_path, child))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((f"{path}[{index}]", item[index]))
    return None
