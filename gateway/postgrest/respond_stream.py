"""Stage 10 of the PostgREST dialect for `Accept: text/csv` and `application/x-ndjson`: the
rows stream out as the shared stream stage produces them (CSV with a header row)."""

from __future__ import annotations

from django.http import StreamingHttpResponse

from core.responses import server_timing
from services.execution.stream import RowStream


def respond_stream(
    stream: RowStream, timings: list[tuple[str, float]], extra_headers: dict[str, str]
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type=stream.content_type)
    response["Server-Timing"] = server_timing(timings)
    for name, value in extra_headers.items():
        response[name] = value
    return response
