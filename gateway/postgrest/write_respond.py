"""Stage 10 of a PostgREST write: the status, body and headers PostgREST answers.

    POST           201; `return=representation`: the rows; `headers-only`: `Location` of the
                   row (one row with a primary key); `minimal`: no body
    PATCH, DELETE  `return=representation`: 200 and the rows; else 204 and no body

`Content-Range` tells how many rows changed (`*/<n>` for POST, `0-<n-1>/<n>` otherwise; the
total only with `Prefer: count`), `Preference-Applied` the preferences that were honoured.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from core.responses import ApiResponse, server_timing
from services.catalog.schema_cache import Table
from services.plan.pgrst_write import PgrstWrite


def _first_key(rows: list[str]) -> dict[str, Any]:
    """The primary key of the first row written (each row's text is its key without
    `return=representation`)."""
    if not rows:
        return {}
    found = orjson.loads(rows[0])
    return found if isinstance(found, dict) else {}


def location(rows: list[str], table: Table) -> str | None:
    """`/<table>?<pk>=eq.<value>` of the one row written, when its table has a primary key."""
    keys = table.primary_key
    found = _first_key(rows)
    if len(rows) != 1 or not keys or any(k not in found for k in keys):
        return None
    pairs = "&".join(f"{quote(k)}=eq.{quote(_text(found[k]), safe='')}" for k in keys)
    return f"/{quote(table.db_name)}?{pairs}"  # the profile names the schema


def _text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _content_range(method: str, rows: int, counted: bool) -> str:
    total = str(rows) if counted else "*"
    if method == "POST" or rows == 0:
        return f"*/{total}"
    return f"0-{rows - 1}/{total}"


def respond_write(
    rows: list[str],
    table: Table,
    plan: PgrstWrite,
    *,
    method: str,
    singular: bool,
    timings: list[tuple[str, float]],
    extra_headers: dict[str, str],
) -> ApiResponse:
    if plan.returning == "representation":
        body = b"[" + b",".join(r.encode() for r in rows) + b"]"
        if singular:  # exactly one row: the executor made sure of it (expect_one)
            body = rows[0].encode()
        response = ApiResponse(body, 201 if method == "POST" else 200)
        media = "application/vnd.pgrst.object+json" if singular else "application/json"
        response["Content-Type"] = f"{media}; charset=utf-8"
    else:
        response = ApiResponse(b"", 201 if method == "POST" else 204)
        if method == "POST" and plan.returning == "headers-only":
            found = location(rows, table)
            if found is not None:
                response["Location"] = found
    response["Content-Range"] = _content_range(method, len(rows), plan.count)
    if plan.applied:
        response["Preference-Applied"] = ", ".join(plan.applied)
    response["Server-Timing"] = server_timing(timings)
    for name, value in extra_headers.items():
        response[name] = value
    return response
