"""The PostgREST dialect's parse errors: GatewayErrors carrying PostgREST's code and details.

The dialect's respond stage (gateway/postgrest/errors.py) reads `context["pgrst"]` into the
body `{"code", "details", "hint", "message"}`; the DF envelope would show it as context.
"""

from __future__ import annotations

from core.errors import BadRequest


def syntax_error(what: str, text: str, position: int, expecting: str) -> BadRequest:
    """PGRST100: `what` (e.g. "select parameter") did not parse at `position` of `text`."""
    near = text[position : position + 1] or "end of input"
    return BadRequest(
        f"failed to parse {what} ({text})",
        context={
            "pgrst": "PGRST100",
            "details": f'unexpected "{near}" at position {position + 1}, expecting {expecting}',
        },
    )


def not_supported(what: str, text: str) -> BadRequest:
    """PGRST100 for grammar PostgREST has and this gateway does not read yet: never a silent
    drop of part of the request."""
    return BadRequest(
        f"failed to parse {what} ({text})",
        context={"pgrst": "PGRST100", "details": f"{what} is not supported by this gateway yet"},
    )
