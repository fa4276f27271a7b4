"""Output formats of `/rest/<service>/<table>` with the real PostgREST Python client (issue
#14, stage 2): `Accept: text/csv` and NDJSON streaming (`application/x-ndjson`, which
PostgREST lacks), both shaped by the select (aliases, casts, order) like the JSON answer."""

from __future__ import annotations

import csv
import io
import json

import pytest
from postgrest import APIError

from tests.postgrest.conftest import Rest, answers

pytestmark = pytest.mark.slow

NDJSON = "application/x-ndjson"


def _csv_rows(text: object) -> list[list[str]]:
    assert isinstance(text, str), text  # the client hands CSV over as text
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_a_header_row_and_follows_the_select(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        result = (
            client.from_("pgrst_docs")
            .select("name:title,id,span_text:span::text,flag")
            .lt("id", 4)
            .order("id", desc=True)
            .csv()
            .execute()
        )
    assert seen[-1].status_code == 200
    assert seen[-1].headers["content-type"].startswith("text/csv")
    assert _csv_rows(result.data) == [
        ["name", "id", "span_text", "flag"],
        ["Rain (in Spain)", "3", "[20,30)", ""],
        ["Cats and dogs, together", "2", "[5,10)", "f"],
        ["The quick fox", "1", "[1,5)", "t"],
    ]


def test_csv_takes_filters_logic_and_paging(rest: Rest) -> None:
    result = (
        rest.client()
        .from_("pgrst_docs")
        .select("id")
        .or_("tags.cs.{news},id.eq.4")
        .order("id")
        .limit(2)
        .offset(1)
        .csv()
        .execute()
    )
    assert _csv_rows(result.data) == [["id"], ["3"], ["4"]]


def test_csv_of_star_lists_every_column_in_table_order(rest: Rest) -> None:
    result = rest.client().from_("pgrst_docs_view").select("*").eq("id", 1).csv().execute()
    header, row = _csv_rows(result.data)
    assert header == ["id", "title", "tags", "span", "body", "meta"]
    assert row[:4] == ["1", "The quick fox", "{news,tech}", "[1,5)"]


def test_ndjson_streams_one_object_per_line_shaped_by_the_select(rest: Rest) -> None:
    client = rest.client(Accept=NDJSON)
    with answers(client) as seen:
        client.from_("pgrst_docs").select("ref:id,tags,during::text").order("id").execute()
    answer = seen[-1]
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(NDJSON)
    lines = answer.text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [list(r) for r in rows] == [["ref", "tags", "during"]] * 4
    assert rows[0] == {
        "ref": 1,
        "tags": ["news", "tech"],
        "during": '["2024-01-01 00:00:00","2024-02-01 00:00:00")',
    }
    assert [r["ref"] for r in rows] == [1, 2, 3, 4]


def test_ndjson_takes_filters_and_the_roles_row_filter(rest: Rest) -> None:
    client = rest.app_client(Accept=NDJSON)
    with answers(client) as seen:
        client.from_("customers").select("id,country").order("id").execute()
    rows = [json.loads(line) for line in seen[-1].text.splitlines()]
    assert rows and {r["country"] for r in rows} == {"US"}
    client = rest.client(Accept=NDJSON)
    with answers(client) as seen:
        client.from_("pgrst_docs").select("id").filter("span", "adj", "[10,20)").execute()
    assert [json.loads(line)["id"] for line in seen[-1].text.splitlines()] == [2, 3]


def test_stream_errors_still_answer_the_postgrest_error_body(rest: Rest) -> None:
    client = rest.client(Accept=NDJSON)
    with answers(client) as seen, pytest.raises(APIError) as caught:
        client.from_("pgrst_docs").select("id").filter("id", "zz", "1").execute()
    assert seen[-1].status_code == 400 and caught.value.code == "PGRST100"
    client = rest.client()
    with answers(client) as seen, pytest.raises(APIError) as caught:
        client.from_("pgrst_docs").select("id,nope").csv().execute()
    assert seen[-1].status_code == 400 and caught.value.code == "42703"


def test_json_stays_the_default_and_single_gives_one_object(rest: Rest) -> None:
    rows = rest.client().from_("pgrst_docs").select("id").eq("id", 2).execute().data
    assert rows == [{"id": 2}]
    one = rest.client().from_("pgrst_docs").select("id").eq("id", 2).single().execute().data
    assert one == {"id": 2}
