"""What only a real server shows (issue #10): chunked request bodies are read, oversized URLs
get the error envelope up to granian's own limit, HEAD answers without a body.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.faults.harness import FAULTY, Stand, stand

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stand]:
    with stand(pg_server, tmp_path_factory.mktemp("edges"), workers=1) as ready:
        yield ready


def _send(
    stand: Stand,
    method: str,
    path: str,
    body: bytes | None = None,
    chunk: int = 7,
    **headers: str,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", stand.gateway.port, timeout=15)
    try:
        conn.putrequest(method, path)
        for name, value in {**stand.headers, **headers}.items():
            conn.putheader(name, value)
        if body is not None and headers.get("Transfer-Encoding") == "chunked":
            conn.endheaders()
            for start in range(0, len(body), chunk):  # as a streaming client would
                part = body[start : start + chunk]
                conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def test_a_chunked_body_is_read(server: Stand) -> None:
    body = json.dumps({"resource": [{"id": 1001, "name": "sent in chunks"}]}).encode()
    status, raw, _ = _send(
        server,
        "POST",
        FAULTY + "?fields=*",
        body,
        **{"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    )
    assert status == 200, raw
    assert json.loads(raw) == {"resource": [{"id": 1001, "name": "sent in chunks"}]}


def test_a_chunked_body_over_the_limit_is_413(server: Stand) -> None:
    # the server's limit is GATEWAY_MAX_BODY_BYTES (16 MiB by default)
    body = b'{"resource": [' + b'{"name": "x"},' * 1_300_000 + b'{"name": "x"}]}'
    status, raw, _ = _send(
        server, "POST", FAULTY, body, chunk=256 * 1024, **{"Transfer-Encoding": "chunked"}
    )
    assert status == 413
    assert json.loads(raw)["error"]["status_code"] == 413


def test_long_urls_get_the_envelope_up_to_the_servers_own_limit(server: Stand) -> None:
    long_filter = "name%3D%27" + "x" * 40_000 + "%27"
    status, raw, _ = _send(server, "GET", f"{FAULTY}?filter={long_filter}")
    assert status == 414
    error = json.loads(raw)["error"]
    assert error["status_code"] == 414 and "the limit is 32768 bytes" in error["message"]
    # what granian refuses itself (over 64 KiB) never reaches the gateway: a bare 414
    status, raw, _ = _send(server, "GET", f"{FAULTY}?filter={'x' * 70_000}")
    assert status == 414


def test_head_answers_like_get_without_a_body(server: Stand) -> None:
    status, raw, headers = _send(server, "HEAD", FAULTY + "/1")
    assert status == 200 and raw == b""
    assert headers["content-type"] == "application/json"
