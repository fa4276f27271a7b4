"""Success shapes: byte passthrough with Server-Timing, and DreamFactory's labels and plurals."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse


def json_response(
    body: bytes | dict[str, Any] | list[Any], timings: list[tuple[str, float]] | None = None
) -> HttpResponse:
    """A JSON response; bytes from PostgreSQL pass through untouched."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = HttpResponse(data, content_type="application/json")
    response["Content-Length"] = str(len(data))
    if timings:
        response["Server-Timing"] = server_timing(timings)
    return response


def server_timing(timings: list[tuple[str, float]]) -> str:
    """The Server-Timing header of stage laps (`auth;dur=0.41, db;dur=0.88`)."""
    return ", ".join([f"{name};dur={seconds * 1000:.2f}" for name, seconds in timings])


def plural(label: str) -> str:
    """A plain English plural for DF's `plural` field; names already plural stay as they are."""
    if label.endswith(("ss", "us", "x", "z", "ch", "sh")):
        return label + "es"
    if label.endswith("s"):
        return label
    if label.endswith("y") and label[-2:-1] not in "aeiou":
        return label[:-1] + "ies"
    return label + "s"


def label_for(name: str) -> str:
    """DF's label: the name camel-cased (`order_items` -> `Order Items`)."""
    return " ".join(w.capitalize() for w in name.replace(".", "_").split("_") if w)
