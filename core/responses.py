"""Success shapes: byte passthrough with Server-Timing, and DreamFactory's labels and plurals.

A successful data API answer is an ApiResponse, not a Django HttpResponse: setting a header on
the latter checks and re-encodes it (about a tenth of a primary-key read's CPU went there). The
WSGI entry sends an ApiResponse as it is; ApiMiddleware (Django's stack, the test client)
turns it into an HttpResponse with `as_django()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import orjson
from django.http import BadHeaderError, HttpResponse, HttpResponseBase

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class ApiResponse:
    """A complete JSON answer: status, headers in the order set, body bytes.

    Supports the part of HttpResponse's interface the API's later steps use (`r[name] = value`,
    `name in r`, `r[name]`, `items()`, `status_code`, `content`). Header names are matched
    without regard to case; a value holding a line break is refused, as Django refuses it.
    """

    __slots__ = ("_headers", "content", "status_code")
    streaming = False

    def __init__(self, content: bytes, status: int = 200) -> None:
        self.content = content
        self.status_code = status
        self._headers: dict[str, tuple[str, str]] = {
            "content-type": ("Content-Type", "application/json"),
            "content-length": ("Content-Length", str(len(content))),
        }

    def __setitem__(self, name: str, value: str) -> None:
        if "\n" in value or "\r" in value:
            raise BadHeaderError(f"Header values can't contain newlines (got {value!r}).")
        self._headers[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._headers[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._headers

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self._headers.get(name.lower())
        return default if found is None else found[1]

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._headers.values())

    def header_list(self) -> list[tuple[str, str]]:
        """The headers as a WSGI server takes them."""
        return list(self._headers.values())

    @property
    def reason_phrase(self) -> str:
        return _REASONS.get(self.status_code, "Unknown Status Code")

    def close(self) -> None:
        """Nothing to release (an HttpResponse's close() runs its closers)."""

    def as_django(self) -> HttpResponse:
        response = HttpResponse(self.content, status=self.status_code)
        for name, value in self._headers.values():
            response[name] = value
        return response


Answer = HttpResponseBase | ApiResponse  # what the API's steps hand on


def json_response(
    body: bytes | dict[str, Any] | list[Any], timings: list[tuple[str, float]] | None = None
) -> ApiResponse:
    """A JSON response; bytes from PostgreSQL pass through untouched."""
    response = ApiResponse(body if isinstance(body, bytes) else orjson.dumps(body))
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
