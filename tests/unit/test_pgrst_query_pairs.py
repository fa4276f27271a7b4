"""The `/rest/` query string reads exactly as `parse_qsl(..., keep_blank_values=True)` reads it
(the fast path only skips decoding parts that hold no escape)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.postgrest.request import query_pairs

CASES = [
    "",
    "id=eq.1",
    "select=id%2Cname&order=id.desc&limit=2",
    "or=(a.eq.1,b.eq.2)&name=like.*ob*",
    "a&&b=&c=%zz+x&d=%C3%A9",
    "x=1;y=2",
    "=v&k=&a=b=c",
    "%E9=%FF&note=it%27s+quoted",
]


@pytest.mark.parametrize("query", CASES)
def test_same_pairs_as_parse_qsl(query: str) -> None:
    assert query_pairs(query) == tuple(parse_qsl(query, keep_blank_values=True))


@given(st.text(alphabet="ab=&%+.,()*:;2Ez é", max_size=40))
def test_any_query_string_reads_as_parse_qsl(query: str) -> None:
    assert query_pairs(query) == tuple(parse_qsl(query, keep_blank_values=True))
