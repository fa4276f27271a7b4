"""PostgREST's remaining operators and logic trees through `/rest/<service>/<table>`, with the
real PostgREST Python client (issue #14, stage 2), on `pgrst_docs` (tests/fixtures/
schema_pgrst.sql: text[]/int[] arrays, int4range/tsrange, a tsvector and a text column, jsonb)
and the view over it."""

from __future__ import annotations

from typing import Any

import pytest
from postgrest import APIError, SyncPostgrestClient

from tests.postgrest.conftest import Rest, answers

pytestmark = pytest.mark.slow


def _error(client: SyncPostgrestClient, run: Any) -> tuple[APIError, int]:
    """The error the client raised, and the HTTP status it came with."""
    with answers(client) as seen, pytest.raises(APIError) as caught:
        run()
    return caught.value, seen[-1].status_code


def _ids(builder: Any) -> list[int]:
    return [r["id"] for r in builder.order("id").execute().data]


def _docs(rest: Rest, table: str = "pgrst_docs") -> Any:
    return rest.client().from_(table).select("id")


# --- pattern and distinctness ---------------------------------------------------------------


def test_match_and_imatch_are_regular_expressions(rest: Rest) -> None:
    assert _ids(_docs(rest).filter("title", "match", "^[CR]")) == [2, 3]
    assert _ids(_docs(rest).filter("title", "match", "^the")) == []
    assert _ids(_docs(rest).filter("title", "imatch", "^the")) == [1]
    assert _ids(_docs(rest).not_.filter("title", "imatch", "^the")) == [2, 3, 4]


def test_isdistinct_treats_null_as_a_value(rest: Rest) -> None:
    assert _ids(_docs(rest).filter("flag", "isdistinct", "true")) == [2, 3, 4]
    assert _ids(_docs(rest).not_.filter("flag", "isdistinct", "false")) == [2]


def test_is_unknown_matches_null_booleans(rest: Rest) -> None:
    assert _ids(_docs(rest).is_("flag", "unknown")) == [3, 4]
    assert _ids(_docs(rest).not_.is_("flag", "unknown")) == [1, 2]


def test_any_and_all_modifiers(rest: Rest) -> None:
    assert _ids(_docs(rest).filter("id", "eq(any)", "{1,3}")) == [1, 3]
    assert _ids(_docs(rest).filter("id", "gt(all)", "{1,2}")) == [3, 4]
    assert _ids(_docs(rest).like_any_of("title", "*fox,Empty")) == [1, 4]
    assert _ids(_docs(rest).like_all_of("title", "*a*,*n*")) == [2, 3]
    assert _ids(_docs(rest).ilike_any_of("title", "the*,rain*")) == [1, 3]
    assert _ids(_docs(rest).filter("title", "match(any)", "{^C,^R}")) == [2, 3]
    assert _ids(_docs(rest).not_.filter("id", "eq(any)", "{1,3}")) == [2, 4]
    assert _ids(_docs(rest).filter("id", "eq(any)", "{}")) == []


# --- full-text search -----------------------------------------------------------------------


def test_full_text_search_on_a_tsvector_column(rest: Rest) -> None:
    assert _ids(_docs(rest).fts("body_tsv", "fox & dog")) == [1]
    assert _ids(_docs(rest).filter("body_tsv", "plfts(english)", "cats dogs")) == [2]
    assert _ids(_docs(rest).filter("body_tsv", "phfts(english)", "lazy dog")) == [1]
    assert _ids(_docs(rest).filter("body_tsv", "wfts(english)", '"rain in spain" or cats')) == [
        2,
        3,
    ]
    assert _ids(_docs(rest).not_.fts("body_tsv", "dog")) == [3]  # NULL documents match neither


def test_full_text_search_on_a_text_column_with_a_language(rest: Rest) -> None:
    docs = _docs(rest)
    assert _ids(docs.text_search("body", "jumping", {"config": "english"})) == [1]
    assert _ids(_docs(rest).filter("body", "fts(simple)", "jumping")) == []  # no stemming
    phrase = {"config": "english", "type": "phrase"}
    assert _ids(_docs(rest).text_search("body", "living together", phrase)) == [2]
    web = {"config": "english", "type": "web_search"}
    assert _ids(_docs(rest).text_search("body", "spain -cats", web)) == [3]


def test_unknown_text_search_language_is_a_400(rest: Rest) -> None:
    client = rest.client()
    error, status = _error(
        client,
        lambda: (
            client.from_("pgrst_docs").select("id").filter("body", "fts(klingon)", "x").execute()
        ),
    )
    assert status == 400 and "klingon" in (error.message or "")


# --- arrays, ranges, jsonb ------------------------------------------------------------------


def test_contains_contained_by_and_overlaps_on_arrays(rest: Rest) -> None:
    assert _ids(_docs(rest).contains("tags", ["news"])) == [1, 3]
    assert _ids(_docs(rest).contains("tags", ["news", "tech"])) == [1]
    assert _ids(_docs(rest).contained_by("tags", ["news", "tech", "pets"])) == [1, 2, 4]
    assert _ids(_docs(rest).ov("tags", ["pets", "weather"])) == [2, 3]
    assert _ids(_docs(rest).cs("scores", [2, 3])) == [1]
    assert _ids(_docs(rest).not_.cs("tags", ["news"])) == [2, 4]
    assert _ids(_docs(rest).filter("tags", "cs", '{"news"}')) == [1, 3]


def test_contains_and_overlaps_on_ranges(rest: Rest) -> None:
    assert _ids(_docs(rest).filter("span", "cs", "[2,3]")) == [1]
    assert _ids(_docs(rest).filter("span", "cd", "[0,12)")) == [1, 2]
    assert _ids(_docs(rest).filter("span", "ov", "[4,6)")) == [1, 2]
    during = _docs(rest).filter("during", "ov", "[2024-01-10,2024-01-16)")
    assert _ids(during) == [1, 3]


def test_range_positions(rest: Rest) -> None:
    assert _ids(_docs(rest).range_lt("span", (5, 25))) == [1]  # sl: strictly left
    assert _ids(_docs(rest).range_gt("span", (0, 5))) == [2, 3]  # sr: strictly right of [1,5)
    assert _ids(_docs(rest).range_lte("span", (0, 10))) == [1, 2]  # nxr
    assert _ids(_docs(rest).range_gte("span", (4, 40))) == [2, 3]  # nxl
    assert _ids(_docs(rest).filter("span", "adj", "[10,20)")) == [2, 3]
    assert _ids(_docs(rest).not_.filter("span", "sl", "[10,11)")) == [3]  # NULL: neither


def test_jsonb_containment(rest: Rest) -> None:
    assert _ids(_docs(rest).contains("meta", {"kind": "story"})) == [1, 3]
    assert _ids(_docs(rest).contained_by("meta", {"kind": "note", "n": 2, "x": 1})) == [2]


def test_operators_read_through_a_view(rest: Rest) -> None:
    assert _ids(_docs(rest, "pgrst_docs_view").contains("tags", ["news"])) == [1, 3]
    assert _ids(_docs(rest, "pgrst_docs_view").filter("span", "adj", "[10,20)")) == [2, 3]
    view = _docs(rest, "pgrst_docs_view")
    assert _ids(view.text_search("body", "rain", {"config": "english"})) == [3]
    assert _ids(_docs(rest, "pgrst_docs_view").or_("id.eq.1,tags.cs.{pets}")) == [1, 2]


@pytest.mark.parametrize(
    ("column", "op", "value"),
    [
        ("title", "cs", "{a}"),
        ("id", "ov", "{1}"),
        ("tags", "sl", "[1,2)"),
        ("id", "fts", "x"),
        ("meta", "ov", "{}"),
        ("scores", "adj", "[1,2)"),
    ],
)
def test_operator_on_an_unsuitable_column_is_a_400(
    rest: Rest, column: str, op: str, value: str
) -> None:
    client = rest.client()
    error, status = _error(
        client, lambda: client.from_("pgrst_docs").select("id").filter(column, op, value).execute()
    )
    assert status == 400 and f"'{op}'" in (error.message or "") and column in (error.message or "")


def test_bad_literal_for_the_column_is_a_400(rest: Rest) -> None:
    client = rest.client()
    _, status = _error(
        client, lambda: client.from_("pgrst_docs").select("id").filter("span", "cs", "[x").execute()
    )
    assert status == 400
    _, status = _error(
        client,
        lambda: client.from_("pgrst_docs").select("id").filter("id", "eq(any)", "{1,x}").execute(),
    )
    assert status == 400


def test_values_are_bound_never_spliced(rest: Rest) -> None:
    hostile = "x' OR true --"
    assert _ids(_docs(rest).filter("title", "match", hostile)) == []
    assert _ids(_docs(rest).text_search("body", hostile, {"type": "plain"})) == []
    assert _ids(_docs(rest).or_(f'title.eq."{hostile}"')) == []


# --- logic trees ----------------------------------------------------------------------------


def test_or_and_nested_logic(rest: Rest) -> None:
    assert _ids(_docs(rest).or_("id.eq.1,id.gt.3")) == [1, 4]
    assert _ids(_docs(rest).or_("id.eq.1,and(id.gt.2,flag.is.null)")) == [1, 3, 4]
    assert _ids(_docs(rest).or_("and(id.gte.2,id.lte.3),or(title.imatch.^emp)")) == [2, 3, 4]
    assert _ids(_docs(rest).or_("id.eq.1,id.eq.2").or_("id.eq.2,id.eq.3")) == [2]  # ANDed


def test_and_parameter_and_negated_trees(rest: Rest) -> None:
    client = rest.client()
    and_tree = client.from_("pgrst_docs").select("id")
    and_tree.request.params = and_tree.request.params.add("and", "(id.gt.1,id.lt.4)")
    assert _ids(and_tree) == [2, 3]
    negated = client.from_("pgrst_docs").select("id").not_.or_("id.eq.1,id.eq.2")
    assert _ids(negated) == [3, 4]
    inner_not = client.from_("pgrst_docs").select("id").or_("not.and(id.gt.1,id.lt.4)")
    assert _ids(inner_not) == [1, 4]


def test_logic_trees_take_every_operator_and_quoted_values(rest: Rest) -> None:
    docs = _docs(rest)
    assert _ids(docs.or_('title.eq."Cats and dogs, together",title.eq."Rain (in Spain)"')) == [2, 3]
    assert _ids(_docs(rest).or_("tags.cs.{pets},span.ov.[20,21)")) == [2, 3]
    assert _ids(_docs(rest).or_('id.in.(1,"4"),body.fts(english).jumping')) == [1, 4]
    assert _ids(_docs(rest).or_('id.not.in.(1,2,3),meta.cs.{"n":2}')) == [2, 4]
    assert _ids(_docs(rest).or_("title.like(any).{*fox,Emp*}")) == [1, 4]


@pytest.mark.parametrize(
    "tree",
    ["id.eq.1,", "id.eq.1,and(id.gt.1", "id.zz.1", "id", "id.eq.1)", "and()", 'id.eq."open'],
)
def test_malformed_logic_tree_is_400_pgrst100_with_the_position(rest: Rest, tree: str) -> None:
    client = rest.client()
    error, status = _error(
        client, lambda: client.from_("pgrst_docs").select("id").or_(tree).execute()
    )
    assert status == 400 and error.code == "PGRST100"
    assert "logic tree" in (error.message or "") and "position" in str(error.details)


def test_unknown_column_in_a_logic_tree_is_400_42703(rest: Rest) -> None:
    client = rest.client()
    error, status = _error(
        client, lambda: client.from_("pgrst_docs").select("id").or_("nope.eq.1,id.eq.1").execute()
    )
    assert status == 400 and error.code == "42703"


def test_logic_tree_meets_the_roles_row_filter(rest: Rest) -> None:
    """The app's role sees US customers only: an `or` cannot widen that."""
    customers = rest.app_client().from_("customers").select("id")
    assert _ids(customers.or_("id.eq.1,id.eq.2,country.eq.DE")) == [1]  # Globex is in DE
    assert _ids(rest.client().from_("customers").select("id").or_("id.eq.1,id.eq.2")) == [1, 2]


# --- the parser alone (no server) -----------------------------------------------------------


def test_logic_tree_errors_point_at_the_offending_character() -> None:
    """Positions count from the start of `key=value`, 1-based, as PostgREST's do."""
    from core.errors import BadRequest
    from services.plan.pgrst_logic import parse_logic

    for key, tree, position, near in [
        ("or", "(id.eq.1,id.zz.1)", 16, "z"),
        ("or", "(id.eq.1,and(id.gt.1)", 25, "end of input"),
        ("not.and", "(id)", 12, ")"),
    ]:
        with pytest.raises(BadRequest) as caught:
            parse_logic(key, tree)
        details = caught.value.context["details"]
        assert f'unexpected "{near}" at position {position}' in details, details


def test_embedded_logic_hook_parses_for_any_table() -> None:
    """`orders.or=(...)`: the embedding stage passes the last word of the key and the value."""
    from services.plan.filter_ast import Condition, Or, Value
    from services.plan.pgrst_logic import is_logic_key, parse_logic

    assert is_logic_key("not.or") and not is_logic_key("orders.or")
    assert parse_logic("or", "(status.eq.new,total.gt.5)") == Or(
        (
            Condition("status", "=", Value("new", quoted=True)),
            Condition("total", ">", Value("5", quoted=True)),
        )
    )
