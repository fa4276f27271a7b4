"""Stage 10 of the PostgREST dialect: the shared execute stage's Result -> PostgREST's shapes.

A read's Result is the `/api/v2` page (`{"resource": [...], "meta": {...}}`, bytes PostgreSQL
built, possibly from the data cache); the rows go out as the bare array PostgREST answers,
with `Content-Range: <first>-<last>/<total or *>`, or as one object for
`Accept: application/vnd.pgrst.object+json` (406 PGRST116 unless exactly one row matched).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from core.errors import GatewayError
from core.responses import ApiResponse, server_timing
from services.execution.run import Cached, Result

_WRAP = b'{"resource":'
_META = b',"meta":'


class NotAcceptable(GatewayError):
    status = 406
    default_message = "Cannot coerce the result to a single JSON object"


def page_parts(result: Result) -> tuple[bytes, dict[str, Any]]:
    """The rows array and the meta object of a read's Result (without parsing the rows: the
    meta object is last and never holds its own separator)."""
    body = result.body if isinstance(result, Cached) else result
    if not isinstance(body, bytes) or not body.startswith(_WRAP):
        raise TypeError("a PostgREST read answers a page of rows")  # a bug, not a client error
    cut = body.rfind(_META)
    if cut < 0:
        return body[len(_WRAP) : -1], {}
    meta = orjson.loads(body[cut + len(_META) : -1])
    return body[len(_WRAP) : cut], meta if isinstance(meta, dict) else {}


def row_count(rows_json: bytes) -> int:
    """How many rows a JSON array holds. orjson refuses a number beyond a double's range (a
    numeric may hold one), which the standard library reads as infinity: only to count."""
    if rows_json == b"[]":
        return 0
    try:
        return len(orjson.loads(rows_json))
    except orjson.JSONDecodeError:
        return len(json.loads(rows_json))


def content_range(offset: int, rows: int, total: int | None) -> str:
    span = f"{offset}-{offset + rows - 1}" if rows else "*"
    return f"{span}/{'*' if total is None else total}"


def respond_read(
    result: Result,
    timings: list[tuple[str, float]],
    *,
    offset: int,
    counted: bool,
    singular: bool,
    extra_headers: dict[str, str],
) -> ApiResponse:
    rows_json, meta = page_parts(result)
    rows = row_count(rows_json)
    total = meta.get("count") if counted else None
    if singular:
        if rows != 1:
            raise NotAcceptable(
                context={"pgrst": "PGRST116", "details": f"The result contains {rows} rows"}
            )
        # the one element as PostgreSQL wrote it (numbers exact, as /api/v2 answers them)
        response = ApiResponse(rows_json.strip()[1:-1].strip())
        response["Content-Type"] = "application/vnd.pgrst.object+json; charset=utf-8"
    else:
        partial = total is not None and rows < total
        response = ApiResponse(rows_json, 206 if partial else 200)
        response["Content-Type"] = "application/json; charset=utf-8"
    response["Content-Range"] = content_range(offset, rows, total)
    response["Server-Timing"] = server_timing(timings)
    if isinstance(result, Cached):
        response["X-Cache"] = result.outcome.upper()
    for name, value in extra_headers.items():
        response[name] = value
    return response
