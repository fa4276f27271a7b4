"""What a hostile or broken client sends to `/rest/` (house rule 3): malformed JSON, a lone
surrogate, over-deep and oversized bodies, injection attempts in filters and names, no
credentials. Each answers PostgREST's error body with a 4xx, never a 500, and writes nothing.

The `postgrest` client cannot send broken bodies, so these requests are made by hand.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.postgrest.conftest import Rest

pytestmark = pytest.mark.slow


def _call(rest: Rest, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310
        f"{rest.base_url}/{path}",
        method=method,
        data=body,
        headers={
            "Authorization": f"Bearer {rest.admin_token}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _todo_count(fixture_db: dict[str, Any]) -> int:
    with psycopg.connect(fixture_db["conninfo"]) as conn:
        row = conn.execute("SELECT count(*) FROM todo").fetchone()
    assert row is not None
    return int(row[0])


def _pgrst_error(status: int, body: bytes, expected: int) -> dict[str, Any]:
    import json

    assert status == expected, body[:300]
    error = json.loads(body)
    assert set(error) == {"code", "details", "hint", "message"}, error
    assert error["message"], error
    return dict(error)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"name": "x"', "JSON"),
        (b'{"name": "\\ud800"}', "surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "deep"),
        (b'{"name": NaN}', "JSON"),
    ],
    ids=["malformed", "lone-surrogate", "over-deep", "nan"],
)
def test_broken_bodies_are_400_and_write_nothing(
    rest: Rest, fixture_db: dict[str, Any], body: bytes, words: str
) -> None:
    before = _todo_count(fixture_db)
    for path in ("todo", "rpc/add_numbers"):
        status, answer = _call(rest, "POST", path, body)
        error = _pgrst_error(status, answer, 400)
        assert words.lower() in (error["message"] + str(error["details"])).lower(), error
    assert _todo_count(fixture_db) == before


def test_an_oversized_body_is_413(rest: Rest, fixture_db: dict[str, Any]) -> None:
    import http.client

    before = _todo_count(fixture_db)
    body = b"[" + b'{"name": "x"},' * 1_300_000 + b'{"name": "y"}]'  # over the 16 MiB default
    conn = http.client.HTTPConnection("127.0.0.1", rest.server.port, timeout=60)
    try:  # chunked, as a streaming client sends it: the server stops reading at the limit
        conn.putrequest("POST", f"/rest/{rest.service}/todo")
        conn.putheader("Authorization", f"Bearer {rest.admin_token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(body), 256 * 1024):
            part = body[start : start + 256 * 1024]
            conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        conn.send(b"0\r\n\r\n")
        answer = conn.getresponse()
        _pgrst_error(answer.status, answer.read(), 413)
    finally:
        conn.close()
    assert _todo_count(fixture_db) == before


def test_injection_attempts_stay_values_and_names_are_checked(
    rest: Rest, fixture_db: dict[str, Any]
) -> None:
    before = _todo_count(fixture_db)
    status, answer = _call(rest, "GET", "todo?name=eq.x%27%3BDROP%20TABLE%20todo%3B--")
    assert (status, answer) == (200, b"[]")
    status, answer = _call(rest, "GET", "todo?select=name%3BDROP%20TABLE%20todo")
    _pgrst_error(status, answer, 400)
    status, answer = _call(rest, "GET", "todo?order=name%22%3BDROP%20TABLE%20todo%3B--")
    _pgrst_error(status, answer, 400)
    status, answer = _call(rest, "GET", "todo%3BDROP%20TABLE%20todo")
    assert status in (400, 404) and status < 500, answer
    assert _todo_count(fixture_db) == before


def test_unknown_names_and_wrong_types_are_4xx(rest: Rest) -> None:
    status, answer = _call(rest, "GET", "no_such_table")
    assert _pgrst_error(status, answer, 404)["code"] == "PGRST205"
    status, answer = _call(rest, "GET", "todo?no_such_column=eq.1")
    _pgrst_error(status, answer, 400)
    status, answer = _call(rest, "GET", "todo?id=eq.not-a-number")
    _pgrst_error(status, answer, 400)
    status, answer = _call(rest, "POST", "todo", b'{"id": "not-a-number"}')
    _pgrst_error(status, answer, 400)
    status, answer = _call(rest, "POST", "rpc/no_such_function", b"{}")
    assert _pgrst_error(status, answer, 404)["code"] == "PGRST202"


def test_no_credentials_is_401(rest: Rest) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{rest.base_url}/todo")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    _pgrst_error(caught.value.code, caught.value.read(), 401)
