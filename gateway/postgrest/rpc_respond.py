"""Stage 10 of `/rpc/<fn>`: a call's result as PostgREST answers it.

Rows (a set-returning function): the bare array with `Content-Range`, 206 when counted and
cut; one composite row: the object (null when none); a scalar: the bare JSON value; void, or
a procedure without OUT parameters: 204; a procedure's OUT values: one object (PostgREST has
no procedures). `Accept: application/vnd.pgrst.object+json` asks for exactly one row.
"""

from __future__ import annotations

import orjson

from core.responses import ApiResponse, server_timing
from gateway.postgrest.profiles import PROFILE_HEADER
from gateway.postgrest.respond import NotAcceptable, content_range
from services.catalog.routines import Routine
from services.execution.pgrst_rpc import RpcResult
from services.plan.types import BoundRead
from services.plan.values import dumps_exact

_JSON = "application/json; charset=utf-8"


def _single(rows: list[object]) -> bytes:
    if len(rows) != 1:
        raise NotAcceptable(
            context={"pgrst": "PGRST116", "details": f"The result contains {len(rows)} rows"}
        )
    return orjson.dumps(rows[0])


def respond_rpc(
    result: RpcResult,
    routine: Routine,
    read: BoundRead | None,
    *,
    singular: bool,
    head: bool,
    schema: str,
    timings: list[tuple[str, float]],
    extra_headers: dict[str, str],
) -> ApiResponse:
    status, content_type = 200, _JSON
    crange: str | None = None
    if result.void:
        body, status, content_type = b"", 204, ""
    elif result.outputs is not None:
        body = dumps_exact(result.outputs).encode()  # numerics stay exact
    elif result.rows is not None and read is not None:
        rows = orjson.loads(result.rows)
        if singular:
            body, content_type = _single(rows), "application/vnd.pgrst.object+json; charset=utf-8"
        elif routine.returns_set:
            body = result.rows
            if routine.shape == "scalar" and not routine.outputs and not read.outputs:
                column = read.table.columns[0].name  # SETOF a scalar: the bare values
                body = orjson.dumps([r[column] for r in rows])
            total = result.count if read.count else None
            crange = content_range(read.offset, len(rows), total)
            if total is not None and len(rows) < total:
                status = 206
        else:  # one composite row: the object itself
            body = orjson.dumps(rows[0]) if rows else b"null"
    else:
        body = result.value or b"null"
        if singular:
            body = _single([orjson.loads(body)])
    response = ApiResponse(b"" if head else body, status)
    if content_type:
        response["Content-Type"] = content_type
    if crange is not None:
        response["Content-Range"] = crange
    response[PROFILE_HEADER] = schema
    response["Server-Timing"] = server_timing(timings)
    for name, value in extra_headers.items():
        response[name] = value
    return response
