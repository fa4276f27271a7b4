"""Parse stage, streamed reads: which format a `_table` read answers in (JSON, NDJSON or CSV),
from `format=`, `stream=true` or the Accept header's q-values."""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import BadRequest
from core.flags import is_true
from services.plan.types import StreamFormat

_ACCEPTED: dict[str, StreamFormat | None] = {
    "application/x-ndjson": "ndjson",
    "text/csv": "csv",
    "application/json": None,
}
_FORMATS: dict[str, StreamFormat | None] = {"ndjson": "ndjson", "csv": "csv", "json": None}


def _from_accept(accept: str) -> StreamFormat | None:
    """The best of JSON, NDJSON and CSV by the Accept header's q-values (JSON if none named)."""
    best: StreamFormat | None = None
    best_q = 0.0
    for item in accept.split(","):
        media, *options = (part.strip() for part in item.split(";"))
        if media.lower() not in _ACCEPTED:
            continue
        q = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = _ACCEPTED[media.lower()], q
    return best


def stream_format(accept: str, query: Mapping[str, str], *, single: bool) -> StreamFormat | None:
    """The streamed format asked for (`format=`, then `stream=true`, then Accept), or None for JSON.

    `single`: a read by ids or count_only, which always answers JSON.
    """
    if "format" in query:
        value = query["format"].strip().lower()
        if value not in _FORMATS:
            raise BadRequest(
                f"Unsupported format '{query['format']}': use json, ndjson or csv.",
                context={"param": "format"},
            )
        fmt = _FORMATS[value]
    elif is_true(query.get("stream")):
        fmt = "ndjson"
    elif "ndjson" in accept or "csv" in accept:
        fmt = _from_accept(accept)
    else:
        return None
    return None if single else fmt
