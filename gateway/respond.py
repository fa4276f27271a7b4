"""Stage 10, respond: the execute stage's Result -> an answer (core.responses.ApiResponse).

Bytes built by PostgreSQL pass through untouched; other JSON values are serialised once; row
streams go out as they come; cached answers carry their ETag and X-Cache and answer 304 to a
matching If-None-Match. Every answer carries the stage timings and the rate-limit headers.
"""

from __future__ import annotations

import orjson
from django.http import HttpResponseNotModified, StreamingHttpResponse

from core.request import ApiRequest
from core.responses import Answer, json_response, server_timing
from services.execution.read_cache import matches
from services.execution.run import Cached, Result
from services.execution.stream import RowStream


def respond(
    result: Result,
    timings: list[tuple[str, float]],
    req: ApiRequest,
    extra_headers: dict[str, str],
) -> Answer:
    response: Answer
    if isinstance(result, RowStream):
        # NDJSON/CSV rows as they come; the timings cover the stages up to the first batch
        response = StreamingHttpResponse(result, content_type=result.content_type)
        response["Server-Timing"] = server_timing(timings)
    elif isinstance(result, Cached):
        if matches(req.if_none_match, result.etag):
            response = HttpResponseNotModified()
        else:
            response = json_response(result.body, timings)
        response["ETag"] = result.etag
        response["X-Cache"] = result.outcome.upper()
    else:
        data = result if isinstance(result, bytes) else orjson.dumps(result)
        response = json_response(data, timings)
    for name, value in extra_headers.items():
        response[name] = value
    return response
