"""Unit tests for the filter parse stage (`services.plan.filters`): no database, no Django."""

from __future__ import annotations

import inspect
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core.errors import BadRequest
from services.plan.filter_ast import (
    ALL_OPS,
    COMPARISON_OPS,
    LIST_OPS,
    NULL_OPS,
    PATTERN_OPS,
    RANGE_OPS,
    And,
    Condition,
    Node,
    Not,
    Or,
    Value,
)
from services.plan.filters import (
    INVALID_FILTER,
    LIST_NEEDS_PARENS,
    MAX_FILTER_LENGTH,
    MAX_NESTING,
    parse_filter,
)

REPO = Path(__file__).resolve().parents[2]


def V(raw: Any) -> Value:
    """An unquoted value."""
    return Value(raw)


def Q(raw: str) -> Value:
    """A quoted string value."""
    return Value(raw, quoted=True)


def P(raw: Any) -> Value:
    """A value taken from params."""
    return Value(raw, from_param=True)


def C(field: str, op: str, value: Value | tuple[Value, ...] | None) -> Condition:
    return Condition(field, op, value)


A1 = C("a", "=", V("1"))
B2 = C("b", "=", V("2"))
C3 = C("c", "=", V("3"))


def error(text: str, params: dict[str, Any] | None = None) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        parse_filter(text, params)
    return info.value


def filter_error(text: str, params: dict[str, Any] | None = None) -> str:
    """The context detail of a generic 'Invalid or unparsable filter request.' error."""
    err = error(text, params)
    assert err.message == INVALID_FILTER
    assert set(err.context) == {"filter_error"}
    return err.context["filter_error"]


# --- empty input ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", " ", "\t\n  \r"])
def test_no_filter_gives_none(text: str | None) -> None:
    assert parse_filter(text) is None


# --- comparison operators ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("=", "="),
        ("!=", "!="),
        ("<>", "!="),
        (">", ">"),
        (">=", ">="),
        ("<", "<"),
        ("<=", "<="),
        ("EQ", "="),
        ("NE", "!="),
        ("GT", ">"),
        ("GTE", ">="),
        ("LT", "<"),
        ("LTE", "<="),
        ("eq", "="),
        ("Ne", "!="),
        ("gTe", ">="),
        ("lte", "<="),
    ],
)
def test_comparison_operators(written: str, op: str) -> None:
    assert op in COMPARISON_OPS
    assert parse_filter(f"age {written} 5") == C("age", op, V("5"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id>=5", C("id", ">=", V("5"))),
        ("id<=5", C("id", "<=", V("5"))),
        ("id<>5", C("id", "!=", V("5"))),
        ("id!=5", C("id", "!=", V("5"))),
        ("name='x'", C("name", "=", Q("x"))),
        ("a=b", C("a", "=", V("b"))),
        ("t>-3.5", C("t", ">", V("-3.5"))),
        ('"a"="b"', C("a", "=", Q("b"))),
    ],
)
def test_symbols_may_touch_field_and_value(text: str, expected: Condition) -> None:
    assert parse_filter(text) == expected


# --- word operators ------------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(PATTERN_OPS))
def test_pattern_operators(op: str) -> None:
    assert parse_filter(f"name {op.upper()} 'a%'") == C("name", op, Q("a%"))


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("like", "like"),
        ("Not Like", "not like"),
        ("NOT\t\tLIKE", "not like"),
        ("contains", "contains"),
        ("not   contains", "not contains"),
        ("starts  with", "starts with"),
        ("StArTs\nWiTh", "starts with"),
        ("not starts with", "not starts with"),
        ("ends with", "ends with"),
        ("NOT ENDS\n WITH", "not ends with"),
    ],
)
def test_word_operators_any_case_and_whitespace(written: str, op: str) -> None:
    assert parse_filter(f"name {written} 'x'") == C("name", op, Q("x"))


def test_word_operator_may_touch_a_quoted_value() -> None:
    assert parse_filter("name LIKE'a%'") == C("name", "like", Q("a%"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("c IS NULL", C("c", "is null", None)),
        ("c is null", C("c", "is null", None)),
        ("c IS NOT NULL", C("c", "is not null", None)),
        ("c is\n not \t null", C("c", "is not null", None)),
        ("(c IS NULL)", C("c", "is null", None)),
    ],
)
def test_null_operators(text: str, expected: Condition) -> None:
    assert {expected.op} <= NULL_OPS
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id IN (1, 2, 3)", C("id", "in", (V("1"), V("2"), V("3")))),
        ("id in(1,2)", C("id", "in", (V("1"), V("2")))),
        ("id NOT IN ( 'a' , \"b\" )", C("id", "not in", (Q("a"), Q("b")))),
        ("id not   in (7)", C("id", "not in", (V("7"),))),
        ("tags ALL ('x', 'y')", C("tags", "all", (Q("x"), Q("y")))),
        ("id IN (1, null, 'null')", C("id", "in", (V("1"), V(None), Q("null")))),
        ("name IN ('a,b', 'c)d')", C("name", "in", (Q("a,b"), Q("c)d")))),
    ],
)
def test_list_operators(text: str, expected: Condition) -> None:
    assert expected.op in LIST_OPS
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("age BETWEEN 1 AND 5", C("age", "between", (V("1"), V("5")))),
        ("age between 1 and 5", C("age", "between", (V("1"), V("5")))),
        ("age NOT BETWEEN 1 AND 5", C("age", "not between", (V("1"), V("5")))),
        ("age between 1 && 5", C("age", "between", (V("1"), V("5")))),
        (
            "d BETWEEN '2024-01-01' AND '2024-12-31'",
            C("d", "between", (Q("2024-01-01"), Q("2024-12-31"))),
        ),
    ],
)
def test_between(text: str, expected: Condition) -> None:
    assert expected.op in RANGE_OPS
    assert parse_filter(text) == expected


def test_between_and_belongs_to_between() -> None:
    assert parse_filter("age BETWEEN 1 AND 5 AND b = 2") == And(
        (C("age", "between", (V("1"), V("5"))), B2)
    )
    assert parse_filter("a = 1 OR age NOT BETWEEN :lo AND :hi", {":lo": 1, "hi": 9}) == Or(
        (A1, C("age", "not between", (P(1), P(9))))
    )


# --- logical structure ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1 OR b=2 AND c=3", Or((A1, And((B2, C3))))),
        ("a=1 AND b=2 OR c=3", Or((And((A1, B2)), C3))),
        ("(a=1 OR b=2) AND c=3", And((Or((A1, B2)), C3))),
        ("a = 1 AND b = 2", And((A1, B2))),
        ("a=1 and b=2 AnD c=3", And((A1, B2, C3))),
        ("a=1 && b=2 || c=3", Or((And((A1, B2)), C3))),
        ("a=1 OR b=2 or c=3", Or((A1, B2, C3))),
        ("a=1 || b=2 || c=3", Or((A1, B2, C3))),
        ("(a=1 AND b=2) AND c=3", And((A1, B2, C3))),
        ("a=1 AND (b=2 AND c=3)", And((A1, B2, C3))),
        ("a=1 OR (b=2 OR c=3)", Or((A1, B2, C3))),
        ("((a = 1))", A1),
        ("( ( (a=1) ) )", A1),
        ("(a=1)AND(b=2)", And((A1, B2))),
        ("(a=1)OR(b=2)", Or((A1, B2))),
        ("(a=1)&&(b=2)", And((A1, B2))),
    ],
)
def test_precedence_flattening_and_parentheses(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NOT a=1", Not(A1)),
        ("not (a=1)", Not(A1)),
        ("NOT(a=1)", Not(A1)),
        ("NOT a=1 AND b=2", And((Not(A1), B2))),
        ("NOT (a=1 AND b=2)", Not(And((A1, B2)))),
        ("a=1 OR NOT b=2 AND c=3", Or((A1, And((Not(B2), C3))))),
        ("NOT NOT a=1", Not(Not(A1))),
        ("NOT (NOT (a=1))", Not(Not(A1))),
        ("notes = 1", C("notes", "=", V("1"))),
        ("not.x = 1", C("not.x", "=", V("1"))),
        ('"not" = 1', C("not", "=", V("1"))),
    ],
)
def test_not(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "(status = 'active') AND (total > 100)",
            And((C("status", "=", Q("active")), C("total", ">", V("100")))),
        ),
        (
            "((a = 1) OR (b = 2)) AND (c IS NOT NULL)",
            And((Or((A1, B2)), C("c", "is not null", None))),
        ),
        ("NOT (deleted = true)", Not(C("deleted", "=", V("true")))),
        ("name=test1", C("name", "=", V("test1"))),
        ("(name='x')", C("name", "=", Q("x"))),
        (
            "(first_name='John')AND(last_name='Doe')",
            And((C("first_name", "=", Q("John")), C("last_name", "=", Q("Doe")))),
        ),
    ],
)
def test_dreamfactory_canonical_examples(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected


# --- fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Name = 1", "Name"),
        ("_x$1 = 1", "_x$1"),
        ("orders.total = 1", "orders.total"),
        ("a.b.c = 1", "a.b.c"),
        ('"Column With Space" = 1', "Column With Space"),
        ('"say ""hi""" = 1', 'say "hi"'),
        ("`weird col` = 1", "weird col"),
        ("`a``b` = 1", "a`b"),
        ("[x y] = 1", "x y"),
        ("[a]]b] = 1", "a]b"),
        ('"a.b" = 1', "a.b"),
        ('"AND" = 1', "AND"),
        ("is IS NULL", "is"),
        ("null = 1", "null"),
    ],
)
def test_fields_are_returned_as_written(text: str, field: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Condition)
    assert node.field == field


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("1 = 1", "1"),
        ("1=1", "1"),
        ("'x' = name", "'x'"),
        ("'it''s' = name", "'it''s'"),
        ("abc-def = 1", "abc-def"),
        ("a. = 1", "a."),
        ("$a = 1", "$a"),
        ("a..b = 1", "a..b"),
        ('"" = 1', '""'),
        ("[] = 1", "[]"),
        ("name = 'x' AND 2 > 1", "2"),
        ("é = 1", "é"),
    ],
)
def test_invalid_fields(text: str, shown: str) -> None:
    err = error(text)
    assert err.message == f"Invalid or unparsable field in filter request: '{shown}'"


def test_invalid_field_context_has_position() -> None:
    assert error("a = 1 OR 1 = 1").context == {
        "filter_error": "expected a field name at position 9"
    }


def test_long_invalid_field_is_truncated_in_the_message() -> None:
    err = error("'" + "x" * 500 + "' = a")
    assert (
        err.message == "Invalid or unparsable field in filter request: '" + "'" + "x" * 99 + "...'"
    )


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'abc'", Q("abc")),
        ('"abc"', Q("abc")),
        ("''", Q("")),
        ("'it''s'", Q("it's")),
        ('"say ""hi"""', Q('say "hi"')),
        (r"'it\'s'", Q("it's")),
        (r'"say \"hi\""', Q('say "hi"')),
        (r"'a\"b'", Q('a"b')),
        (r"'back\\slash'", Q("back\\slash")),
        (r"'\\'", Q("\\")),
        (r"'line\nbreak'", Q(r"line\nbreak")),
        (r"'50\%'", Q(r"50\%")),
        ("'a AND b = 2'", Q("a AND b = 2")),
        ("'(x, y)'", Q("(x, y)")),
        ("' padded '", Q(" padded ")),
        ("'ünïcødé'", Q("ünïcødé")),
        ("test1", V("test1")),
        ("5", V("5")),
        ("-3.5", V("-3.5")),
        ("2024-01-01T10:00:00+00:00", V("2024-01-01T10:00:00+00:00")),
        ("true", V("true")),
        ("null", V(None)),
        ("NULL", V(None)),
        ("Null", V(None)),
        ("'null'", Q("null")),
        ("1;", V("1;")),
        ("OR", V("OR")),
        ("Hello!", V("Hello!")),
    ],
)
def test_values(value: str, expected: Value) -> None:
    assert parse_filter(f"f = {value}") == C("f", "=", expected)


def test_unquoted_value_stops_at_whitespace_parens_and_commas() -> None:
    assert parse_filter("(a=x)") == C("a", "=", V("x"))
    assert parse_filter("a IN (x,y)") == C("a", "in", (V("x"), V("y")))
    assert parse_filter("a=x AND b=y") == And((C("a", "=", V("x")), C("b", "=", V("y"))))


def test_injection_looking_input_is_data_or_an_error() -> None:
    assert error("username='x' OR 1=1").message == (
        "Invalid or unparsable field in filter request: '1'"
    )
    assert parse_filter("name = 'x; DROP TABLE t; --'") == C("name", "=", Q("x; DROP TABLE t; --"))
    assert parse_filter("name = 'x'' OR ''1''=''1'") == C("name", "=", Q("x' OR '1'='1"))
    assert parse_filter(r"name = 'x\' OR 1=1 --'") == C("name", "=", Q("x' OR 1=1 --"))
    assert (
        filter_error("name = 'x' --")
        == "expected AND, OR or the end of the filter, found '--' at position 11"
    )


def test_value_containing_comparison_characters_must_be_quoted() -> None:
    # Decision: `a=b=c` is an error (not the value 'b=c'); quoting gives the value.
    assert filter_error("a=b=c") == (
        "the unquoted value 'b=c' contains '=', '<' or '>'; put it in quotes at position 2"
    )
    assert parse_filter("a='b=c'") == C("a", "=", Q("b=c"))
    assert filter_error("a == 1") == "expected a value after '=', found '=' at position 3"
    assert filter_error("a => 1") == "expected a value after '=', found '>' at position 3"
    assert filter_error("a < >1") == "expected a value after '<', found '>1' at position 4"


# --- params --------------------------------------------------------------------------------


def test_placeholders() -> None:
    assert parse_filter("status = :status", {":status": "on"}) == C("status", "=", P("on"))
    assert parse_filter("status = :status", {"status": "on"}) == C("status", "=", P("on"))
    assert parse_filter("n = :n", {":n": 1, "n": 2}) == C("n", "=", P(1))
    assert parse_filter("n=:n", {":n": None}) == C("n", "=", P(None))
    assert parse_filter("n = :n_2", {"n_2": {"a": [1]}}) == C("n", "=", P({"a": [1]}))
    assert parse_filter("id IN (:a, 3, :b)", {":a": 1, ":b": [2]}) == C(
        "id", "in", (P(1), V("3"), P([2]))
    )
    assert parse_filter("name = ':x'") == C("name", "=", Q(":x"))


def test_list_param_stands_for_the_parenthesised_list() -> None:
    assert parse_filter("id IN :ids", {":ids": [1, 2]}) == C("id", "in", (P(1), P(2)))
    assert parse_filter("id NOT IN :ids", {"ids": ("a",)}) == C("id", "not in", (P("a"),))
    assert parse_filter("t ALL :t AND b=2", {":t": ["x"]}) == And((C("t", "all", (P("x"),)), B2))


@pytest.mark.parametrize("params", [None, {}, {":other": 1}, {"statuses": 1}])
def test_missing_placeholder(params: dict[str, Any] | None) -> None:
    err = error("status = :status", params)
    assert err.message == "Filter parameter ':status' was not found in params."
    assert err.context == {"filter_error": "unknown placeholder :status at position 9"}


def test_missing_list_placeholder() -> None:
    assert error("id IN :ids").message == "Filter parameter ':ids' was not found in params."


@pytest.mark.parametrize("token", [":", ":5", "::x", ":a-b", ":a.b"])
def test_malformed_placeholder(token: str) -> None:
    assert filter_error(f"a = {token}", {"a": 1, ":a": 1}) == (
        f"'{token}' is not a valid :name placeholder; quote it if it is a value at position 4"
    )


# --- list errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("id IN 1", "expected '(' after IN, e.g. id IN (1, 2), at position 6"),
        ("id NOT IN '1,2'", "expected '(' after NOT IN, e.g. id NOT IN (1, 2), at position 10"),
        ("id ALL", "expected '(' after ALL, e.g. id ALL (1, 2), at position 6"),
    ],
)
def test_list_needs_parentheses(text: str, detail: str) -> None:
    err = error(text)
    assert err.message == LIST_NEEDS_PARENS
    assert err.context == {"filter_error": detail}


def test_list_param_that_is_not_a_list() -> None:
    err = error("id IN :ids", {":ids": "1,2"})
    assert err.message == LIST_NEEDS_PARENS
    assert err.context == {
        "filter_error": "parameter :ids must be a JSON list for IN at position 6"
    }


@pytest.mark.parametrize(
    ("text", "params", "op", "example"),
    [
        ("id IN ()", None, "IN", "id IN (1, 2)"),
        ("id not in ( )", None, "NOT IN", "id NOT IN (1, 2)"),
        ("x ALL :v", {":v": []}, "ALL", "x ALL (1, 2)"),
    ],
)
def test_empty_list(text: str, params: dict[str, Any] | None, op: str, example: str) -> None:
    assert error(text, params).message == (
        f"The {op} value list in the filter is empty; give at least one value, e.g. {example}."
    )


UNCLOSED = "expected AND, OR or ')' (closing the '(' from position 0), "

# --- unparsable filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("name", "expected an operator after field 'name', found end of filter at position 4"),
        ("name 'x'", "expected an operator after field 'name', found ''x'' at position 5"),
        (
            "name STARTS 'x'",
            "expected an operator after field 'name', found 'STARTS' at position 5",
        ),
        (
            "name NOTLIKE 'x'",
            "expected an operator after field 'name', found 'NOTLIKE' at position 5",
        ),
        (
            "lower(name) = 'x'",
            "expected an operator after field 'lower', found '(name)' at position 5",
        ),
        ("name = ", "expected a value after '=', found end of filter at position 7"),
        ("a IS", "expected an operator after field 'a', found 'IS' at position 2"),
        ("a = 1 AND", "expected a condition, found end of filter at position 9"),
        ("a = 1 OR ", "expected a condition, found end of filter at position 9"),
        ("AND a = 1", "expected a condition, found 'AND' at position 0"),
        ("a = 1 AND OR b = 2", "expected a condition, found 'OR' at position 10"),
        ("a = 1 && && b = 2", "expected a condition, found '&&' at position 9"),
        ("= 5", "expected a condition, found '=' at position 0"),
        ("NOT", "expected a condition, found end of filter at position 3"),
        ("()", "expected a condition, found ')' at position 1"),
        (
            "(a = 1",
            UNCLOSED + "found end of filter at position 6",
        ),
        (
            "((a = 1) AND b = 2",
            UNCLOSED + "found end of filter at position 18",
        ),
        (
            "(a = 1 b = 2)",
            UNCLOSED + "found 'b' at position 7",
        ),
        ("a = 1)", "unbalanced parentheses: ')' has no matching '(' at position 5"),
        (")AND(", "expected a condition, found ')AND(' at position 0"),
        ("a = 1 b = 2", "expected AND, OR or the end of the filter, found 'b' at position 6"),
        ("a = 1 NOT b = 2", "expected AND, OR or the end of the filter, found 'NOT' at position 6"),
        ("a = 1 ANDb = 2", "expected AND, OR or the end of the filter, found 'ANDb' at position 6"),
        ("a = 'x'y", "expected AND, OR or the end of the filter, found 'y' at position 7"),
        (
            "a = John Smith",
            "expected AND, OR or the end of the filter, found 'Smith' at position 9",
        ),
        ("a IS NULL 5", "expected AND, OR or the end of the filter, found '5' at position 10"),
        ("a = 'abc", "unterminated string starting at position 4"),
        ('a = "abc', "unterminated string starting at position 4"),
        (r"a = 'abc\'", "unterminated string starting at position 4"),
        ("'abc = 1", "unterminated string starting at position 0"),
        ('"abc = 1', "unterminated quoted field name starting at position 0"),
        ("[abc = 1", "unterminated quoted field name starting at position 0"),
        ("a = (1)", "'=' takes a single value; only IN, NOT IN and ALL take a list at position 4"),
        (
            "a LIKE ('x')",
            "'like' takes a single value; only IN, NOT IN and ALL take a list at position 7",
        ),
        ("a BETWEEN (1, 2)", "BETWEEN takes two values: field BETWEEN low AND high at position 10"),
        (
            "a BETWEEN 1",
            "expected AND between the two BETWEEN values, found end of filter at position 11",
        ),
        (
            "a BETWEEN 1 OR 2",
            "expected AND between the two BETWEEN values, found 'OR' at position 12",
        ),
        (
            "a NOT BETWEEN 1 AND",
            "expected a value after 'not between', found end of filter at position 19",
        ),
        ("a IN (1,)", "expected a value after 'in', found ')' at position 8"),
        ("a IN (,1)", "expected a value after 'in', found ',1)' at position 6"),
        ("a IN (1 2)", "expected ',' or ')' in the IN list, found '2)' at position 8"),
        ("a IN (1", "expected ',' or ')' in the IN list, found end of filter at position 7"),
        ("a IN ((1))", "expected a value (lists cannot be nested), found '(1))' at position 6"),
    ],
)
def test_unparsable(text: str, detail: str) -> None:
    assert filter_error(text) == detail


@pytest.mark.parametrize(
    ("text", "word", "pos"),
    [
        ("a = 1 XOR b = 2", "XOR", 6),
        ("a = 1 nor b = 2", "NOR", 6),
        ("(a = 1) Xor (b = 2)", "XOR", 8),
        ("a BETWEEN 1 XOR 2", "XOR", 12),
    ],
)
def test_nor_and_xor_are_not_supported(text: str, word: str, pos: int) -> None:
    assert filter_error(text) == (
        f"{word} is not supported on PostgreSQL; rewrite it with AND, OR and NOT at position {pos}"
    )


def test_xor_as_a_field_name_needs_quotes() -> None:
    assert filter_error("xor = 1") == "expected a condition, found 'xor' at position 0"
    assert parse_filter('"xor" = 1') == C("xor", "=", V("1"))


# --- guards --------------------------------------------------------------------------------


def test_length_limit() -> None:
    text = "a=" + "x" * (MAX_FILTER_LENGTH - 2)
    assert parse_filter(text) == C("a", "=", V("x" * (MAX_FILTER_LENGTH - 2)))
    err = error(text + "x")
    assert err.message == (
        f"The filter is too long ({MAX_FILTER_LENGTH + 1} characters); "
        f"the limit is {MAX_FILTER_LENGTH} characters."
    )


def test_long_flat_filters_do_not_recurse() -> None:
    text = " OR ".join(f"f{i} = {i}" for i in range(4000))
    node = parse_filter(text)
    assert isinstance(node, Or)
    assert len(node.items) == 4000
    assert node.items[-1] == C("f3999", "=", V("3999"))


NESTING_MESSAGE = (
    f"The filter is nested too deeply; at most {MAX_NESTING} levels of parentheses "
    "and NOT are allowed."
)


def test_nesting_limit_parentheses() -> None:
    ok = "(" * MAX_NESTING + "a=1" + ")" * MAX_NESTING
    assert parse_filter(ok) == A1
    err = error("(" + ok + ")")
    assert err.message == NESTING_MESSAGE
    assert err.context == {"filter_error": f"nesting limit exceeded at position {MAX_NESTING}"}


def test_nesting_limit_not() -> None:
    node = parse_filter("NOT " * MAX_NESTING + "a=1")
    for _ in range(MAX_NESTING):
        assert isinstance(node, Not)
        node = node.item
    assert node == A1
    assert error("NOT " * (MAX_NESTING + 1) + "a=1").message == NESTING_MESSAGE


@pytest.mark.parametrize("text", ["(" * 60000, "NOT (" * 10000 + "a=1", "NOT" + " NOT" * 16000])
def test_deep_input_never_raises_recursion_error(text: str) -> None:
    assert error(text).message == NESTING_MESSAGE


def test_recursion_error_on_a_nearly_full_stack_becomes_bad_request() -> None:
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 30)
    try:
        with pytest.raises(BadRequest) as info:
            parse_filter("(" * 40 + "a=1" + ")" * 40)
    finally:
        sys.setrecursionlimit(old_limit)
    assert info.value.message == NESTING_MESSAGE


def test_module_does_not_import_django_or_psycopg() -> None:
    code = (
        "import sys, services.plan.filters; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'psycopg', 'psycopg2')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)  # noqa: S603


# --- property-based tests ------------------------------------------------------------------

FILTERISH = st.text(
    alphabet="()'\"`[]=<>!:,&|\\ \t\nanotdrixslekbwhuANOTDRIXSLEKBWHU0123456789_.-$"
)
TOKENS = st.lists(
    st.sampled_from(
        "a b = != <> >= AND OR NOT && || ( ) , 'x' \"y\" ' \" IN ALL IS NULL BETWEEN LIKE STARTS "
        "WITH :p :q 1 null XOR [c] `d` \\ ''".split()
    ),
    max_size=25,
).map(" ".join)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)
PARAMS = st.dictionaries(st.sampled_from([":p", "p", "q", ":r"]), JSON, max_size=3)


@given(text=st.one_of(st.text(), FILTERISH, TOKENS), params=PARAMS)
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_text_only_ever_raises_bad_request(text: str, params: dict[str, Any]) -> None:
    try:
        result = parse_filter(text, params)
    except BadRequest as err:
        assert err.message
        return
    assert result is None or isinstance(result, Condition | And | Or | Not)


# A renderer from AST to filter text, with random spellings, spacing, and redundant parentheses.

RESERVED = {"and", "or", "not", "nor", "xor"}
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*")
SPELLINGS = {
    "=": ["=", "EQ"],
    "!=": ["!=", "<>", "NE"],
    ">": [">", "GT"],
    ">=": [">=", "GTE"],
    "<": ["<", "LT"],
    "<=": ["<=", "LTE"],
}


class Renderer:
    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.params: dict[str, Any] = {}

    def ws(self, *, required: bool = True) -> str:
        options = [" ", "  ", "\t", "\n"] + ([] if required else ["", "", ""])
        return self.rnd.choice(options)

    def kw(self, words: str) -> str:
        return "".join(
            (self.ws() if i else "") + self.rnd.choice([w.upper(), w.lower(), w.capitalize()])
            for i, w in enumerate(words.split())
        )

    def field(self, name: str) -> str:
        if BARE.fullmatch(name) and name.lower() not in RESERVED and self.rnd.random() < 0.7:
            return name
        opener = self.rnd.choice(['"', "`", "["])
        closer = "]" if opener == "[" else opener
        return opener + name.replace(closer, closer * 2) + closer

    def string(self, text: str) -> str:
        quote = self.rnd.choice(["'", '"'])
        out = []
        for i, ch in enumerate(text):
            following = text[i + 1 : i + 2]
            if ch == "\\":
                keep = following and following not in "'\"\\" and self.rnd.random() < 0.5
                out.append("\\" if keep else "\\\\")
            elif ch == quote:
                out.append(self.rnd.choice([quote * 2, "\\" + quote]))
            elif ch in "'\"" and self.rnd.random() < 0.3:
                out.append("\\" + ch)
            else:
                out.append(ch)
        return quote + "".join(out) + quote

    def placeholder(self, raw: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[self.rnd.choice([":" + name, name])] = raw
        return ":" + name

    def value(self, value: Value) -> str:
        if value.from_param:
            return self.placeholder(value.raw)
        if value.quoted:
            return self.string(value.raw)
        if value.raw is None:
            return self.rnd.choice(["null", "NULL", "Null"])
        return value.raw

    def condition(self, cond: Condition) -> str:
        field, op, value = self.field(cond.field), cond.op, cond.value
        if op in SPELLINGS:
            spelled = self.rnd.choice(SPELLINGS[op])
            if spelled.isalpha():
                return f"{field}{self.ws()}{self.kw(spelled)}{self.ws()}{self.value(value)}"
            gap, gap2 = self.ws(required=False), self.ws(required=False)
            return f"{field}{gap}{spelled}{gap2}{self.value(value)}"
        head = f"{field}{self.ws()}{self.kw(op)}"
        if op in NULL_OPS:
            return head
        if op in RANGE_OPS:
            low, high = value
            conj = self.rnd.choice(["AND", "and", "&&"])
            return (
                f"{head}{self.ws()}{self.value(low)}{self.ws()}{conj}{self.ws()}{self.value(high)}"
            )
        if op in LIST_OPS:
            if all(v.from_param for v in value) and self.rnd.random() < 0.5:
                return f"{head}{self.ws()}{self.placeholder([v.raw for v in value])}"
            items = ",".join(
                self.ws(required=False) + self.value(v) + self.ws(required=False) for v in value
            )
            return f"{head}{self.ws(required=False)}({items})"
        return f"{head}{self.ws()}{self.value(value)}"

    def paren(self, text: str) -> str:
        return f"({self.ws(required=False)}{text}{self.ws(required=False)})"

    def node(self, node: Node) -> str:
        if isinstance(node, Condition):
            text = self.condition(node)
        elif isinstance(node, Not):
            inner = self.node(node.item)
            if isinstance(node.item, And | Or):
                inner = self.paren(inner)
            gap = self.ws(required=not inner.startswith("("))
            text = f"{self.kw('not')}{gap}{inner}"
        else:
            words = ["AND", "and", "&&"] if isinstance(node, And) else ["OR", "or", "||"]
            parts = []
            for item in node.items:
                part = self.node(item)
                if isinstance(item, Or) and isinstance(node, And):
                    part = self.paren(part)
                parts.append(part)
            text = parts[0]
            for part in parts[1:]:
                text += f"{self.ws()}{self.rnd.choice(words)}{self.ws()}{part}"
        return self.paren(text) if self.rnd.random() < 0.1 else text


def join(kind: type[And] | type[Or], items: list[Node]) -> Node:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


def depth(node: Node) -> int:
    if isinstance(node, Not):
        return 1 + depth(node.item)
    if isinstance(node, And | Or):
        return 1 + max(depth(item) for item in node.items)
    return 0


FIELD_NAMES = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_$]{0,8}(\.[A-Za-z_][A-Za-z0-9_$]{0,4})?", fullmatch=True),
    st.text(min_size=1, max_size=10),
)
UNQUOTED = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="(),=<>'\""
    ),
    min_size=1,
    max_size=10,
).filter(
    lambda s: not s.startswith(":") and s.lower() != "null" and not any(c.isspace() for c in s)
)
VALUES = st.one_of(
    st.text(max_size=12).map(Q),
    UNQUOTED.map(V),
    st.just(V(None)),
    JSON.map(P),
)


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    op = draw(st.sampled_from(sorted(ALL_OPS)))
    field = draw(FIELD_NAMES)
    if op in NULL_OPS:
        return C(field, op, None)
    if op in RANGE_OPS:
        return C(field, op, (draw(VALUES), draw(VALUES)))
    if op in LIST_OPS:
        items = draw(
            st.one_of(
                st.lists(VALUES, min_size=1, max_size=4),
                st.lists(JSON.map(P), min_size=1, max_size=4),
            )
        )
        return C(field, op, tuple(items))
    return C(field, op, draw(VALUES))


NODES = st.recursive(
    conditions(),
    lambda children: st.one_of(
        children.map(Not),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: join(And, xs)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: join(Or, xs)),
    ),
    max_leaves=8,
)


@given(node=NODES, rnd=st.randoms(use_true_random=False))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_rendered_asts_round_trip(node: Node, rnd: random.Random) -> None:
    assume(depth(node) < 20)
    renderer = Renderer(rnd)
    text = renderer.node(node)
    assert parse_filter(text, renderer.params) == node, text


@given(node=NODES, rnd=st.randoms(use_true_random=False), data=st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_filters_only_ever_raise_bad_request(
    node: Node, rnd: random.Random, data: st.DataObject
) -> None:
    renderer = Renderer(rnd)
    text = renderer.node(node)
    cut = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["", "(", ")", "'", '"', ",", " AND ", "=", "NOT ", "\\"]))
    drop = data.draw(st.integers(0, 3))
    mutated = text[:cut] + insert + text[cut + drop :]
    try:
        parse_filter(mutated, renderer.params)
    except BadRequest:
        pass
