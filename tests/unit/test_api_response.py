"""core.responses.ApiResponse: the data API's lean answer, and its Django twin."""

from __future__ import annotations

import pytest
from django.http import BadHeaderError

from core.responses import ApiResponse, json_response


def test_headers_are_matched_without_case_and_keep_their_order() -> None:
    response = json_response({"a": 1}, [("db", 0.0012)])
    response["x-request-id"] = "abc"
    response["X-Request-ID"] = "def"  # replaces, whatever the case
    assert response["X-REQUEST-ID"] == "def"
    assert "content-length" in response
    assert response.header_list() == [
        ("Content-Type", "application/json"),
        ("Content-Length", "7"),
        ("Server-Timing", "db;dur=1.20"),
        ("X-Request-ID", "def"),
    ]
    assert response.content == b'{"a":1}'
    assert response.reason_phrase == "OK"


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb"])
def test_a_header_value_with_a_line_break_is_refused(value: str) -> None:
    with pytest.raises(BadHeaderError):
        ApiResponse(b"{}")["Access-Control-Allow-Origin"] = value


def test_as_django_keeps_status_headers_and_body() -> None:
    response = ApiResponse(b"[1]", status=201)
    response["ETag"] = '"x"'
    twin = response.as_django()
    assert twin.status_code == 201
    assert twin["ETag"] == '"x"'
    assert twin["Content-Length"] == "3"
    assert twin.content == b"[1]"
