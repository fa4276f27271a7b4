"""Streamed reads: GET /_table/{t} as NDJSON or CSV, every row, from a server-side cursor."""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from typing import Any

import orjson
import pytest

# gateway.wsgi checks the audit store when it is first imported
pytestmark = pytest.mark.django_db(databases=["default", "audit"])

URL = "/api/v2/shop/_table/stream_rows"
ODD = 'Odd, "name"'
NDJSON = {"HTTP_ACCEPT": "application/x-ndjson"}

# stream_rows, generated in PostgreSQL; expected() is the same function in Python
_FILL = """
INSERT INTO stream_rows  -- columns in table order: id, n, label, amount, the odd one
SELECT g, g %% 1000,
       CASE WHEN g %% 7 = 0 THEN 'a,b "c"' || chr(10) || g ELSE 'row ' || g END,
       (g %% 100000) / 100.0,
       CASE g %% 5 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'x' || g END
FROM generate_series(1, %s) AS g
"""


def expected(g: int) -> tuple[int, int, str, Decimal, str | None]:
    label = f'a,b "c"\n{g}' if g % 7 == 0 else f"row {g}"
    odd = None if g % 5 == 0 else "" if g % 5 == 1 else f"x{g}"
    return g, g % 1000, label, Decimal(g % 100000) / 100, odd


@pytest.fixture
def rows(pg: Any) -> Any:
    """fill(n): stream_rows holds exactly rows 1..n."""

    def fill(n: int) -> None:
        pg.execute("TRUNCATE stream_rows")
        pg.execute(_FILL, [n])

    return fill


def stream(api: Any, query: str = "", **headers: str) -> Any:
    """The raw response of a GET on stream_rows (streaming or not)."""
    url = f"{URL}?{query}" if query else URL
    return api.client.get(url, headers=api.headers, **headers)


def body(response: Any) -> bytes:
    assert response.streaming, response.content
    return b"".join(response.streaming_content)


def ndjson_rows(response: Any) -> list[dict[str, Any]]:
    assert response["Content-Type"] == "application/x-ndjson"
    data = body(response)
    assert data == b"" or data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def csv_rows(response: Any) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(body(response).decode(), newline="")))


def pool_in_use() -> int:
    from services.registry import registry

    stats = registry.get("shop").pool.stats()
    return stats.get("pool_size", 0) - stats.get("pool_available", 0)


def test_ndjson_streams_every_row_past_max_records(api: Any, rows: Any) -> None:
    n = 200_000
    rows(n)
    got = ndjson_rows(stream(api, "order=id", **NDJSON))
    assert len(got) == n  # max_records (1000) does not apply to a stream
    for g, row in enumerate(got, start=1):
        want = expected(g)
        assert (row["id"], row["n"], row["label"], row[ODD]) == (want[0], want[1], want[2], want[4])
        assert Decimal(str(row["amount"])) == want[3]
    assert pool_in_use() == 0


def test_csv_streams_every_row_with_header_and_quoting(api: Any, rows: Any) -> None:
    n = 200_000
    rows(n)
    got = csv_rows(stream(api, "format=csv&order=id"))
    assert got[0] == ["id", "n", "label", "amount", ODD]
    assert len(got) == n + 1
    for g, row in enumerate(got[1:], start=1):
        want = expected(g)
        # PostgreSQL's text output: NULL is an empty field, like the empty string once parsed
        assert row == [str(want[0]), str(want[1]), want[2], f"{want[3]:.2f}", want[4] or ""]


def test_csv_text_format_tells_null_from_empty_string(api: Any, rows: Any) -> None:
    rows(7)
    raw = body(stream(api, "format=csv&order=id&filter=id%20in%20(5,6,7)"))
    assert raw.decode() == (
        'id,n,label,amount,"Odd, ""name"""\n'
        "5,5,row 5,0.05,\n"  # NULL: nothing
        '6,6,row 6,0.06,""\n'  # empty string: quoted
        '7,7,"a,b ""c""\n7",0.07,x7\n'
    )


def test_filter_fields_order_offset_and_limit_apply(api: Any, rows: Any) -> None:
    rows(5_000)
    query = "filter=n%20%3C%203&fields=id,label&order=id%20desc&offset=2&limit=4"
    got = ndjson_rows(stream(api, query, **NDJSON))
    ids = [i for i in range(5_000, 0, -1) if i % 1000 < 3][2:6]
    assert got == [{"id": i, "label": expected(i)[2]} for i in ids]
    got_csv = csv_rows(stream(api, query + "&format=csv"))
    assert got_csv == [["id", "label"]] + [[str(i), expected(i)[2]] for i in ids]


def test_stream_lines_are_the_page_records(api: Any) -> None:
    """Each NDJSON line is exactly the record a JSON page holds (related rows included)."""
    query = "related=customers_by_customer_id,order_items_by_order_id&fields=id,total&order=id"
    status, page = api.get(f"/api/v2/shop/_table/orders?{query}")
    assert status == 200
    response = api.client.get(
        f"/api/v2/shop/_table/orders?{query}&format=ndjson", headers=api.headers
    )
    assert ndjson_rows(response) == page["resource"]


def test_a_given_limit_above_max_records_still_limits(api: Any, rows: Any) -> None:
    rows(5_000)
    got = ndjson_rows(stream(api, "stream=true&order=id&limit=3000"))
    assert [r["id"] for r in got] == list(range(1, 3001))


@pytest.mark.parametrize(
    ("query", "accept", "kind"),
    [
        ("", "application/x-ndjson", "ndjson"),
        ("", "text/csv", "csv"),
        ("", "application/json;q=0.5, text/csv", "csv"),
        ("", "text/csv;q=0.2, application/json", "json"),
        ("", "text/html,application/xhtml+xml,*/*;q=0.8", "json"),
        ("format=ndjson", "", "ndjson"),
        ("format=CSV", "application/x-ndjson", "csv"),  # the parameter wins over Accept
        ("format=json", "text/csv", "json"),
        ("stream=true", "", "ndjson"),
        ("stream=true&format=csv", "", "csv"),
        ("stream=false", "", "json"),
    ],
)
def test_accept_header_and_format_parameter(
    api: Any, rows: Any, query: str, accept: str, kind: str
) -> None:
    rows(3)
    response = stream(api, query + "&order=id", HTTP_ACCEPT=accept)
    if kind == "json":
        assert not response.streaming
        assert orjson.loads(response.content)["resource"][0]["id"] == 1
    elif kind == "ndjson":
        assert [r["id"] for r in ndjson_rows(response)] == [1, 2, 3]
    else:
        assert [r[0] for r in csv_rows(response)] == ["id", "1", "2", "3"]


def test_reads_by_id_and_count_only_answer_json(api: Any, rows: Any) -> None:
    rows(3)
    response = api.client.get(f"{URL}/2?format=csv", headers=api.headers)
    assert not response.streaming and orjson.loads(response.content)["id"] == 2
    response = stream(api, "format=ndjson&count_only=true")
    assert not response.streaming and response.content == b"3"


def test_errors_before_the_first_byte_use_the_envelope(api: Any, rows: Any) -> None:
    rows(3)
    for query, status, message in [
        ("format=csv&filter=nope%3D1", 400, "Invalid or unparsable field in filter request"),
        ("format=ndjson&order=nope", 400, "Invalid field 'nope' in order by clause."),
        ("format=xml", 400, "Unsupported format 'xml': use json, ndjson or csv."),
        ("format=ndjson&filter=label%3E1", 200, None),  # text compared with text: fine
    ]:
        response = stream(api, query)
        assert response.status_code == status, query
        if message is None:
            assert body(response).startswith(b'{"id":')
        else:
            assert not response.streaming
            assert response["Content-Type"] == "application/json"
            error = orjson.loads(response.content)["error"]
            assert error["message"].startswith(message) and error["status_code"] == status
    response = api.client.get(
        "/api/v2/shop/_table/nope?format=csv", headers=api.headers, HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 404 and not response.streaming
    assert pool_in_use() == 0


def test_database_error_before_first_byte_is_classified(api: Any) -> None:
    # created_at is timestamptz: the bound text only fails when PostgreSQL parses it
    for fmt in ("ndjson", "csv"):
        response = api.client.get(
            f"/api/v2/shop/_table/customers?format={fmt}&filter=created_at%3D'someday'",
            headers=api.headers,
        )
        assert response.status_code == 400 and not response.streaming
        error = orjson.loads(response.content)["error"]
        assert error["code"] == "22007" and "someday" in error["message"]
    assert pool_in_use() == 0


def test_connections_return_to_the_pool(api: Any, rows: Any, service: Any) -> None:
    service.pool_max = 2
    service.save()
    rows(20_000)
    for i in range(10):
        response = stream(api, "format=csv" if i % 2 else "format=ndjson")
        assert len(body(response)) > 100_000
        assert pool_in_use() == 0
    # abandoned after the first chunk (a client that hangs up): close() ends the cursor/COPY
    for query in ("format=csv", "format=ndjson") * 3:
        response = stream(api, query)
        next(iter(response.streaming_content))
        response.close()
        assert pool_in_use() == 0
    status, data = api.get("/api/v2/shop/_table/stream_rows", limit=1)
    assert status == 200 and len(data["resource"]) == 1


def test_never_started_stream_still_releases_on_close(api: Any, rows: Any) -> None:
    rows(10)
    response = stream(api, "format=ndjson")
    response.close()
    assert pool_in_use() == 0


def wsgi_get(path: str, query: str, headers: dict[str, str]) -> tuple[str, dict[str, str], bytes]:
    """GET through gateway.wsgi.application, the production entry point."""
    from gateway.wsgi import application

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    environ |= {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
        captured.update(status=status, headers=dict(response_headers))

    result = application(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()  # what a WSGI server does
    return captured["status"], captured["headers"], data


def test_streams_through_the_production_wsgi_entry(api: Any, rows: Any) -> None:
    rows(3)
    status, headers, data = wsgi_get(URL, "format=ndjson&order=id", api.headers)
    assert status == "200 OK" and headers["Content-Type"] == "application/x-ndjson"
    assert [orjson.loads(line)["id"] for line in data.splitlines()] == [1, 2, 3]
    assert pool_in_use() == 0


def test_a_slow_reader_outlasts_the_statement_timeout(api: Any, rows: Any, service: Any) -> None:
    """The timeout bounds each FETCH (NDJSON); the CSV COPY runs as long as the client reads."""
    service.statement_timeout = 100  # ms
    service.save()
    rows(300_000)
    for fmt in ("ndjson", "csv"):
        chunks = iter(stream(api, f"format={fmt}").streaming_content)
        size = len(next(chunks))
        time.sleep(0.7)
        size += sum(len(c) for c in chunks)
        assert size > 2_000_000, fmt
        assert pool_in_use() == 0
