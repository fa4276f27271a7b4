"""Every column type of `all_types` round-trips without loss (POST, then GET by id), and bad
values are refused with a 400 naming the field, never a 500 (spec §3.6, §3.11, policy table).

Responses are parsed with `parse_float=Decimal` and requests are sent as raw bytes wherever
digits matter, so float rounding anywhere on the path would show.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
ALL = f"{T}/all_types"
CREATE_BATCH = "Batch Error: Not all requested records could be created."
NULLABLE = (
    "i2",
    "i4",
    "i8",
    "num",
    "num_scaled",
    "f4",
    "f8",
    "cash",
    "flag",
    "txt",
    "vc",
    "ch",
    "uid",
    "d",
    "t",
    "ts",
    "tstz",
    "js",
    "jsb",
    "int_arr",
    "text_arr",
    "bin",
    "feeling",
    "ival",
)
BINARY = bytes(range(256)) + b"\x00\xff" * 20  # > 57 bytes: base64 line wrapping would show
UID = "6f1c9b1e-4a0c-4b8e-9d51-2c1c7f0a1b2c"


@pytest.fixture(autouse=True)
def utc_service(service: Any) -> Any:
    """Pin the service's session time zone so timestamptz output is deterministic."""
    service.timezone = "UTC"
    service.save()
    return service


def exact(api: Any, method: str, path: str, raw: bytes = b"", **params: Any) -> tuple[int, Any]:
    """Like api.call, but JSON numbers with a fraction come back as exact Decimals."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"{path}?{query}" if query else path
    response = api.client.generic(
        method, url, data=raw, content_type="application/json", headers=api.headers
    )
    return response.status_code, json.loads(response.content, parse_float=Decimal)


def create(api: Any, raw_record: bytes) -> int:
    """POST one record given as raw JSON object text; its new id."""
    status, body = exact(api, "POST", ALL, b'{"resource":[' + raw_record + b"]}")
    assert status == 200, body
    return int(body["resource"][0]["id"])


def read(api: Any, row_id: int) -> dict[str, Any]:
    status, body = exact(api, "GET", f"{ALL}/{row_id}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def stored(pg: Any, column: str, row_id: int) -> Any:
    return pg.execute(f'SELECT "{column}" FROM all_types WHERE id = %s', (row_id,)).fetchone()[0]


_NO_PG = object()

# (column, JSON literal sent, value expected back in the GET response, value psycopg reads back)
ROUND_TRIPS = [
    ("i2", b"-32768", -32768, -32768),
    ("i2", b"32767", 32767, 32767),
    ("i4", b"-2147483648", -2147483648, -2147483648),
    ("i4", b"2147483647", 2147483647, 2147483647),
    ("i4", b'"42"', 42, 42),
    ("i8", b"9007199254740993", 9007199254740993, 9007199254740993),
    ("i8", b"-9223372036854775808", -(2**63), -(2**63)),
    ("i8", b"9223372036854775807", 2**63 - 1, 2**63 - 1),
    (
        "num",
        b"12345678901234567890.123456789",
        Decimal("12345678901234567890.123456789"),
        Decimal("12345678901234567890.123456789"),
    ),
    (
        "num",
        b"-0.000000000000000000001",
        Decimal("-0.000000000000000000001"),
        Decimal("-0.000000000000000000001"),
    ),
    ("num", b"-42", -42, Decimal("-42")),
    (
        "num_scaled",
        b"12345678901234567890.1234567890",
        Decimal("12345678901234567890.1234567890"),
        Decimal("12345678901234567890.1234567890"),
    ),
    ("f4", b"1.5", Decimal("1.5"), 1.5),
    ("f8", b"0.30000000000000004", Decimal("0.30000000000000004"), 0.30000000000000004),
    ("f8", b"-1e-300", Decimal("-1e-300"), -1e-300),
    ("cash", b"1234.56", Decimal("1234.56"), _NO_PG),
    ("cash", b"-0.01", Decimal("-0.01"), _NO_PG),
    ("flag", b"true", True, True),
    ("flag", b"false", False, False),
    ("flag", b'"yes"', True, True),
    ("flag", b"0", False, False),
    (
        "txt",
        json.dumps("h\u00e9llo \"dq\" 'sq' \\ back\nnew\ttab \u65e5\u672c \U0001f600").encode(),
        "h\u00e9llo \"dq\" 'sq' \\ back\nnew\ttab \u65e5\u672c \U0001f600",
        "h\u00e9llo \"dq\" 'sq' \\ back\nnew\ttab \u65e5\u672c \U0001f600",
    ),
    ("txt", b'""', "", ""),
    ("vc", b'"  padded  "', "  padded  ", "  padded  "),
    ("ch", b'"ab"', "ab ", "ab "),  # char(3) pads, as PostgreSQL stores it
    ("uid", json.dumps(UID).encode(), UID, uuid.UUID(UID)),
    ("uid", json.dumps(UID.upper()).encode(), UID, uuid.UUID(UID)),
    ("d", b'"2026-11-22"', "2026-11-22", dt.date(2026, 11, 22)),
    ("t", b'"10:30:00"', "10:30:00", dt.time(10, 30)),
    ("ts", b'"2026-11-22T10:30:00"', "2026-11-22T10:30:00", dt.datetime(2026, 11, 22, 10, 30)),
    (
        "ts",
        b'"2026-11-22 10:30:00.123456"',
        "2026-11-22T10:30:00.123456",
        dt.datetime(2026, 11, 22, 10, 30, 0, 123456),
    ),
    (
        "tstz",
        b'"2026-11-22T10:30:00+00:00"',
        "2026-11-22T10:30:00+00:00",
        dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC),
    ),
    (
        "tstz",
        b'"2026-11-22T12:30:00+02:00"',
        "2026-11-22T10:30:00+00:00",
        dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC),
    ),
    (
        "js",
        b'{"a":[1,{"b":null}],"c":"x","d":{"e":[true,false]}}',
        {"a": [1, {"b": None}], "c": "x", "d": {"e": [True, False]}},
        {"a": [1, {"b": None}], "c": "x", "d": {"e": [True, False]}},
    ),
    (
        "jsb",
        b'[1,"two",{"three":[3]},null,[]]',
        [1, "two", {"three": [3]}, None, []],
        [1, "two", {"three": [3]}, None, []],
    ),
    ("jsb", b'"just a string"', "just a string", "just a string"),
    ("jsb", b"12", 12, 12),
    ("int_arr", b"[1,null,-3]", [1, None, -3], [1, None, -3]),
    ("int_arr", b"[[1,2],[3,4]]", [[1, 2], [3, 4]], [[1, 2], [3, 4]]),
    ("int_arr", b"[]", [], []),
    (
        "text_arr",
        json.dumps(["a,b", 'c"d', None, "e\\f", "NULL", " sp ", "{x}", "it's"]).encode(),
        ["a,b", 'c"d', None, "e\\f", "NULL", " sp ", "{x}", "it's"],
        ["a,b", 'c"d', None, "e\\f", "NULL", " sp ", "{x}", "it's"],
    ),
    (
        "bin",
        json.dumps(base64.b64encode(BINARY).decode()).encode(),
        base64.b64encode(BINARY).decode(),
        BINARY,
    ),
    ("bin", b'"AP8="', "AP8=", b"\x00\xff"),
    ("bin", b'""', "", b""),
    ("feeling", b'"happy"', "happy", "happy"),
    ("ival", b'"1 day 02:03:04"', "1 day 02:03:04", dt.timedelta(days=1, seconds=7384)),
]


@pytest.mark.parametrize(
    ("column", "sent", "expected", "in_db"),
    ROUND_TRIPS,
    ids=[f"{c}-{i}" for i, (c, *_rest) in enumerate(ROUND_TRIPS)],
)
def test_value_round_trips_through_post_and_get(
    api: Any, pg: Any, column: str, sent: bytes, expected: Any, in_db: Any
) -> None:
    row_id = create(api, b'{"' + column.encode() + b'":' + sent + b"}")
    got = read(api, row_id)[column]
    assert got == expected
    assert type(got) is type(expected)  # a number stays a number, JSON stays nested
    if in_db is not _NO_PG:
        assert stored(pg, column, row_id) == in_db


def test_numeric_digits_survive_byte_for_byte(api: Any) -> None:
    """The response text carries PostgreSQL's exact digits, as a JSON number (not a string)."""
    row_id = create(
        api,
        b'{"num":12345678901234567890.123456789,"num_scaled":0.1,"i8":9007199254740993,'
        b'"cash":1234.56}',
    )
    response = api.client.get(f"{ALL}/{row_id}", headers=api.headers)
    text = response.content.decode()
    assert '"num":12345678901234567890.123456789' in text
    assert '"num_scaled":0.1000000000' in text  # numeric(30,10) keeps its scale
    assert '"i8":9007199254740993' in text
    assert '"cash":1234.56' in text


def test_write_responses_keep_exact_digits(api: Any) -> None:
    """fields=* on a write re-reads the row: the same exact output as GET."""
    status, body = exact(
        api,
        "POST",
        ALL,
        b'[{"num":98765432109876543210.0123456789,"i8":-9007199254740993}]',
        fields="*",
    )
    assert status == 200
    record = body["resource"][0]
    assert record["num"] == Decimal("98765432109876543210.0123456789")
    assert record["i8"] == -9007199254740993


def test_patch_round_trips_exact_values(api: Any, pg: Any) -> None:
    row_id = create(api, b'{"num":1}')
    status, body = exact(
        api,
        "PATCH",
        f"{ALL}/{row_id}",
        b'{"num":0.1000000000000000000000000001,"i8":-9007199254740993,"jsb":{"k":[1,2]},'
        b'"bin":"AAEC/w=="}',
        fields="num,i8,jsb,bin",
    )
    assert status == 200
    assert body == {
        "num": Decimal("0.1000000000000000000000000001"),
        "i8": -9007199254740993,
        "jsb": {"k": [1, 2]},
        "bin": "AAEC/w==",
    }
    assert stored(pg, "num", row_id) == Decimal("0.1000000000000000000000000001")
    assert stored(pg, "bin", row_id) == b"\x00\x01\x02\xff"


def test_filter_finds_exact_numeric_and_bigint_values(api: Any) -> None:
    row_id = create(api, b'{"num":12345678901234567890.123456789,"i8":9007199254740993}')
    create(api, b'{"num":12345678901234567890.123456788,"i8":9007199254740992}')
    status, body = exact(api, "GET", ALL, filter=quote("num = 12345678901234567890.123456789"))
    assert status == 200
    assert [r["id"] for r in body["resource"]] == [row_id]
    status, body = exact(api, "GET", ALL, filter=quote("i8 = 9007199254740993"))
    assert [r["id"] for r in body["resource"]] == [row_id]


def test_every_nullable_column_takes_null(api: Any, pg: Any) -> None:
    record = json.dumps(dict.fromkeys(NULLABLE)).encode()
    row_id = create(api, record)
    got = read(api, row_id)
    assert got == {"id": row_id, **dict.fromkeys(NULLABLE), "generated_len": None}
    row = pg.execute(
        "SELECT " + ", ".join(f"{c} IS NULL" for c in NULLABLE) + " FROM all_types WHERE id = %s",
        (row_id,),
    ).fetchone()
    assert all(row)


def test_json_null_is_sql_null_but_json_text_null_is_a_json_value(api: Any, pg: Any) -> None:
    row_id = create(api, b'{"js":null,"jsb":"null"}')
    assert read(api, row_id)["js"] is None
    assert pg.execute("SELECT js IS NULL FROM all_types WHERE id = %s", (row_id,)).fetchone()[0]


def test_empty_string_on_nullable_integer_is_null(api: Any, pg: Any) -> None:
    row_id = create(api, b'{"i4":"","txt":"x"}')
    assert read(api, row_id)["i4"] is None
    assert stored(pg, "i4", row_id) is None


def test_generated_column_is_computed_and_cannot_be_written(api: Any, pg: Any) -> None:
    row_id = create(api, b'{"txt":"hello","generated_len":99}')
    assert read(api, row_id)["generated_len"] == 5
    status, body = api.patch(f"{ALL}/{row_id}", {"txt": "hi"}, fields="generated_len")
    assert (status, body) == (200, {"generated_len": 2})
    status, body = api.patch(f"{ALL}/{row_id}", {"generated_len": 1})
    assert status == 400
    assert body["error"]["message"] == "No valid fields were found in record."
    assert stored(pg, "generated_len", row_id) == 2


def test_generated_column_alone_is_no_valid_field(api: Any, pg: Any) -> None:
    status, body = api.post(ALL, [{"generated_len": 3}])
    assert status == 400
    assert body["error"]["context"]["resource"][0]["message"] == (
        "No valid fields were found in record."
    )
    assert pg.execute("SELECT count(*) FROM all_types").fetchone()[0] == 0


def test_uuid_primary_key_by_id(api: Any) -> None:
    status, body = api.get(f"{T}/uuid_keyed/{UID}")
    assert (status, body) == (200, {"id": UID, "label": "first"})
    status, body = api.get(f"{T}/uuid_keyed/not-a-uuid")
    assert status == 400
    assert body["error"]["message"] == "Field 'id' must be a valid UUID."


def test_uuid_default_key_is_returned_on_create(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/uuid_keyed", [{"label": "second"}])
    assert status == 200
    new_id = body["resource"][0]["id"]
    assert uuid.UUID(new_id)
    assert pg.execute("SELECT label FROM uuid_keyed WHERE id = %s", (new_id,)).fetchone() == (
        "second",
    )


# --- type errors -------------------------------------------------------------------------------

# (column, JSON literal, exact inner message or None, substrings the message must contain)
TYPE_ERRORS = [
    ("i4", b'"abc"', "Field 'i4' must be a valid integer.", ()),
    ("i4", b"1.5", "Field 'i4' must be a valid integer.", ()),
    ("i4", b"[1]", "Field 'i4' must be a valid integer.", ()),
    ("i8", b"9223372036854775808", "Field 'i8' is out of range for type bigint.", ()),
    ("i2", b"32768", "Field 'i2' is out of range for type smallint.", ()),
    ("i2", b"-32769", "Field 'i2' is out of range for type smallint.", ()),
    ("num", b'"twelve"', "Field 'num' must be a valid number.", ()),
    ("cash", b'"lots"', "Field 'cash' must be a valid number.", ()),
    ("flag", b'"maybe"', "Field 'flag' must be a valid boolean.", ()),
    ("flag", b"2", "Field 'flag' must be a valid boolean.", ()),
    ("uid", b'"not-a-uuid"', "Field 'uid' must be a valid UUID.", ()),
    ("uid", b'""', "Field 'uid' must be a valid UUID.", ()),
    ("bin", b'"!!!not base64"', "Field 'bin' must be valid base64.", ()),
    ("bin", b'"AP8"', "Field 'bin' must be valid base64.", ()),
    ("bin", b"123", "Field 'bin' must be a base64 string.", ()),
    ("int_arr", b"5", "Field 'int_arr' must be an array.", ()),
    ("d", b'{"a":1}', "Field 'd' does not take an object or array value.", ()),
    ("d", b'"yesterday-ish"', None, ("date", "yesterday-ish")),
    ("d", b'"2026-13-45"', None, ("2026-13-45",)),
    ("ts", b'"garbage"', None, ("timestamp", "garbage")),
    ("tstz", b'"2026-02-30T00:00:00Z"', None, ("2026-02-30T00:00:00Z",)),
    ("t", b'"25:00"', None, ("25:00",)),
    ("feeling", b'"angry"', None, ("mood", "angry")),
    ("ival", b'"forever"', None, ("interval", "forever")),
    ("int_arr", b'["a"]', None, ("integer", '"a"')),
    ("vc", json.dumps("x" * 21).encode(), None, ("character varying(20)",)),
    ("num_scaled", b"1e30", None, ("overflow",)),
]


@pytest.mark.parametrize(
    ("column", "sent", "message", "mentions"),
    TYPE_ERRORS,
    ids=[f"{c}-{i}" for i, (c, *_rest) in enumerate(TYPE_ERRORS)],
)
def test_bad_value_on_create_is_a_400_batch_error(
    api: Any, pg: Any, column: str, sent: bytes, message: str | None, mentions: tuple[str, ...]
) -> None:
    raw = b'[{"' + column.encode() + b'":' + sent + b"}]"
    status, body = api.call("POST", ALL, raw=raw)
    assert status == 400
    error = body["error"]
    assert error["code"] == 1000
    assert error["status_code"] == 400
    assert error["message"] == CREATE_BATCH
    assert error["context"]["error"] == [0]
    inner = error["context"]["resource"][0]
    assert inner["status_code"] == 400
    if message is not None:
        assert inner["message"] == message
    for text in mentions:
        assert text in inner["message"]
    assert pg.execute("SELECT count(*) FROM all_types").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("column", "sent", "message"),
    [
        ("i4", b'"abc"', "Field 'i4' must be a valid integer."),
        ("flag", b'"maybe"', "Field 'flag' must be a valid boolean."),
        ("uid", b'"zzz"', "Field 'uid' must be a valid UUID."),
        ("bin", b'"%%%"', "Field 'bin' must be valid base64."),
        ("i2", b"70000", "Field 'i2' is out of range for type smallint."),
    ],
)
def test_bad_value_on_update_by_id_is_an_unwrapped_400(
    api: Any, pg: Any, column: str, sent: bytes, message: str
) -> None:
    row_id = create(api, b'{"i4":7}')
    raw = b'{"' + column.encode() + b'":' + sent + b"}"
    status, body = api.call("PATCH", f"{ALL}/{row_id}", raw=raw)
    assert status == 400
    assert body["error"]["code"] == 400
    assert body["error"]["message"] == message
    assert stored(pg, "i4", row_id) == 7


def test_bad_date_on_update_is_a_400_naming_the_value(api: Any) -> None:
    row_id = create(api, b'{"d":"2026-01-01"}')
    status, body = api.patch(f"{ALL}/{row_id}", {"d": "not a date"})
    assert status == 400
    assert "not a date" in body["error"]["message"]
    assert read(api, row_id)["d"] == "2026-01-01"


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ("i4 = abc", "Field 'i4' must be a valid integer."),
        ("flag = maybe", "Field 'flag' must be a valid boolean."),
        ("uid = 'nope'", "Field 'uid' must be a valid UUID."),
    ],
)
def test_bad_value_in_filter_is_a_400(api: Any, flt: str, message: str) -> None:
    status, body = api.get(ALL, filter=quote(flt))
    assert status == 400
    assert body["error"]["message"] == message


def test_bad_date_in_filter_is_a_400_not_a_500(api: Any) -> None:
    status, body = api.get(ALL, filter=quote("d = 'someday'"))
    assert status == 400
    assert "someday" in body["error"]["message"]


def test_later_records_are_not_written_after_a_type_error(api: Any, pg: Any) -> None:
    status, body = api.call("POST", ALL, raw=b'[{"i4":1},{"i4":"x"},{"i4":3}]')
    assert status == 400
    context = body["error"]["context"]
    assert context["error"] == [1]
    assert context["resource"][0] == {"id": 1}
    assert context["resource"][1]["message"] == "Field 'i4' must be a valid integer."
    assert len(context["resource"]) == 2  # processing stopped at the failure
    assert [r[0] for r in pg.execute("SELECT i4 FROM all_types ORDER BY id")] == [1]


# --- values that once answered 500 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "sent", "expected"),
    [
        (
            "jsb",
            b'{"price":3.5,"tags":[1.25]}',
            {"price": Decimal("3.5"), "tags": [Decimal("1.25")]},
        ),
        ("js", b"[0.1,2.5]", [Decimal("0.1"), Decimal("2.5")]),
        ("jsb", b"3.5", Decimal("3.5")),
        (
            "jsb",
            b'{"exact":12345678901234567890.123456789}',
            {"exact": Decimal("12345678901234567890.123456789")},
        ),
        ("js", b'{"neg":-0.000000000000000000001}', {"neg": Decimal("-0.000000000000000000001")}),
    ],
)
def test_fractional_numbers_inside_json_round_trip_exactly(
    api: Any, column: str, sent: bytes, expected: Any
) -> None:
    status, body = exact(api, "POST", ALL, b'[{"' + column.encode() + b'":' + sent + b"}]")
    assert status == 200, body
    assert read(api, body["resource"][0]["id"])[column] == expected


def test_fractional_numbers_inside_json_survive_patch(api: Any, pg: Any) -> None:
    row_id = create(api, b'{"jsb":{}}')
    status, _ = exact(api, "PATCH", f"{ALL}/{row_id}", b'{"jsb":{"a":[1.5,{"b":0.25}]}}')
    assert status == 200
    assert read(api, row_id)["jsb"] == {"a": [Decimal("1.5"), {"b": Decimal("0.25")}]}
    assert stored(pg, "jsb", row_id) == {"a": [1.5, {"b": 0.25}]}


def test_object_with_fraction_into_text_column_is_stored_as_json_text(api: Any) -> None:
    status, body = api.call("POST", ALL, raw=b'[{"txt":{"a":1.5}}]')
    assert status == 200, body
    assert json.loads(read(api, body["resource"][0]["id"])["txt"]) == {"a": 1.5}


def test_nul_character_in_text_is_a_400_batch_error(api: Any, pg: Any) -> None:
    status, body = api.call("POST", ALL, raw=b'[{"txt":"a\\u0000b"}]')
    assert status == 400
    assert body["error"]["code"] == 1000
    assert body["error"]["message"] == CREATE_BATCH
    assert "NUL" in body["error"]["context"]["resource"][0]["message"]
    assert pg.execute("SELECT count(*) FROM all_types").fetchone()[0] == 0


def test_nul_character_error_names_the_field(api: Any) -> None:
    status, body = api.call("POST", ALL, raw=b'[{"vc":"ok","txt":"a\\u0000b"}]')
    assert status == 400
    assert "'txt'" in body["error"]["context"]["resource"][0]["message"]


def test_nul_character_in_filter_is_a_400(api: Any) -> None:
    status, body = api.get(f"{T}/todo", filter=quote("name = 'a\x00b'"))
    assert status == 400
    assert body["error"]["status_code"] == 400
