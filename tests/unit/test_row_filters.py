"""Unit tests for role row filters (`rbac.row_filters`, spec §7.6 and §8.4): no database.

Stored `{name, operator, value}` filters are parsed once into a filter AST; `{lookup}` tokens are
substituted into the parsed values per request, so a user's attributes can never change the
filter's structure. `bind_for_table` needs a schema and is tested elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import BadRequest
from rbac.policy import Principal, lookups_for
from rbac.row_filters import NeedsUser, combine_groups, parse_filters, substitute
from rbac.rules import RowFilterGroup
from rbac.sessions import Session, UserSnapshot
from services.plan.filter_ast import And, Condition, Node, Not, Or, Value

USER = {"user.id": 7, "user.email": "ann@example.com", "user.first_name": "Ann", "role.id": 3}

INJECTIONS = [
    "x') OR (1=1",
    "1 OR 1=1",
    "') OR ('1'='1",
    "1) OR (1=1",
    "x'; DROP TABLE orders; --",
    "a = 1 AND b = 2",
    "(owner_id IS NOT NULL)",
    '" OR ""="',
    "{user.id}",
]


def V(raw: Any) -> Value:
    """An unquoted value as parsed."""
    return Value(raw)


def Q(raw: str) -> Value:
    """A quoted string value as parsed."""
    return Value(raw, quoted=True)


def S(raw: Any) -> Value:
    """A value a whole-value lookup put in."""
    return Value(raw, quoted=True, from_param=True)


def one(operator: str, value: Any = None, name: str = "col") -> Node:
    """The node of a single stored filter."""
    spec: dict[str, Any] = {"name": name, "operator": operator}
    if value is not None:
        spec["value"] = value
    parsed = parse_filters([spec])
    assert parsed is not None
    return parsed.node


def bad(filters: Any, filter_op: Any = "AND") -> str:
    """The message of the 400 that parse_filters gives."""
    with pytest.raises(BadRequest) as info:
        parse_filters(filters, filter_op)
    assert info.value.status == 400
    return info.value.message


def bad_one(spec: Any) -> str:
    return bad([spec])


def sub(operator: str, value: Any, lookups: dict[str, Any], name: str = "col") -> Node:
    """One stored filter, substituted as a request would see it."""
    parsed = parse_filters([{"name": name, "operator": operator, "value": value}])
    assert parsed is not None
    return combine_groups((parsed,), lookups)


# --- operators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "op"),
    [
        ("=", "="),
        ("!=", "!="),
        ("<>", "!="),
        (">", ">"),
        ("<", "<"),
        (">=", ">="),
        ("<=", "<="),
        ("like", "like"),
        ("not like", "not like"),
        ("contains", "contains"),
        ("starts with", "starts with"),
        ("start with", "starts with"),
        ("ends with", "ends with"),
        ("end with", "ends with"),
    ],
)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_single_value_operators(operator: str, op: str, case: Any) -> None:
    assert one(case(operator), "'west'") == Condition("col", op, Q("west"))


@pytest.mark.parametrize(
    ("operator", "op"),
    [("in", "in"), ("IN", "in"), ("not in", "not in"), ("NOT IN", "not in"), ("Not  In", "not in")],
)
def test_list_operators(operator: str, op: str) -> None:
    assert one(operator, "(1, 2)") == Condition("col", op, (V("1"), V("2")))
    assert one(operator, "('a', \"b c\")") == Condition("col", op, (Q("a"), Q("b c")))


@pytest.mark.parametrize(
    ("operator", "op"),
    [
        ("is null", "is null"),
        ("IS NULL", "is null"),
        ("is not null", "is not null"),
        ("Is Not Null", "is not null"),
        ("  IS   NOT\tNULL ", "is not null"),
    ],
)
def test_null_operators_need_no_value(operator: str, op: str) -> None:
    assert one(operator) == Condition("col", op, None)
    assert one(operator, "") == Condition("col", op, None)
    assert one(operator, "ignored") == Condition("col", op, None)


def test_operator_whitespace_is_normalised() -> None:
    assert one("  STARTS \t WITH ", "'a'") == Condition("col", "starts with", Q("a"))


# --- values and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'west'", Q("west")),
        ('"west"', Q("west")),
        ("'west coast'", Q("west coast")),
        ("'a%'", Q("a%")),
        ("'1 OR 1=1'", Q("1 OR 1=1")),
        ("42", V("42")),
        (42, V("42")),
        (0, V("0")),
        (1.5, V("1.5")),
        (True, V("true")),
        (False, V("false")),
        ("abc", V("abc")),
    ],
)
def test_values(value: Any, expected: Value) -> None:
    assert one("=", value) == Condition("col", "=", expected)


def test_the_stored_name_is_the_field() -> None:
    assert one("=", 1, name="  Owner_ID ") == Condition("Owner_ID", "=", V("1"))
    assert one("=", 1, name="rf_field") == Condition("rf_field", "=", V("1"))


def test_no_filters_give_none() -> None:
    assert parse_filters(None) is None
    assert parse_filters([]) is None
    assert parse_filters("") is None


def test_several_filters_are_joined_by_filter_op_in_order() -> None:
    specs = [
        {"name": "a", "operator": "=", "value": 1},
        {"name": "b", "operator": "is null"},
        {"name": "c", "operator": "in", "value": "(1, 2)"},
    ]
    conditions = (
        Condition("a", "=", V("1")),
        Condition("b", "is null", None),
        Condition("c", "in", (V("1"), V("2"))),
    )
    assert parse_filters(specs) == RowFilterGroup(And(conditions), has_lookups=False)
    assert parse_filters(specs, None) == RowFilterGroup(And(conditions), has_lookups=False)
    assert parse_filters(specs, "") == RowFilterGroup(And(conditions), has_lookups=False)
    assert parse_filters(specs, "OR") == RowFilterGroup(Or(conditions), has_lookups=False)
    assert parse_filters(specs, " or ") == RowFilterGroup(Or(conditions), has_lookups=False)


def test_single_filter_is_a_bare_condition_whatever_filter_op() -> None:
    spec = [{"name": "a", "operator": "=", "value": 1}]
    expected = RowFilterGroup(Condition("a", "=", V("1")), has_lookups=False)
    assert parse_filters(spec, "AND") == expected
    assert parse_filters(spec, "OR") == expected


@pytest.mark.parametrize(
    ("operator", "value", "has_lookups"),
    [
        ("=", "{user.id}", True),
        ("like", "'%{user.email}%'", True),
        ("in", "(1, {user.id})", True),
        ("=", "{custom}", True),
        ("=", "'{user.id'", False),
        ("=", "'user.id'", False),
        ("is null", None, False),
        ("=", 5, False),
    ],
)
def test_has_lookups(operator: str, value: Any, has_lookups: bool) -> None:
    spec: dict[str, Any] = {"name": "c", "operator": operator, "value": value}
    parsed = parse_filters([{"name": "a", "operator": "=", "value": 1}, spec])
    assert parsed is not None
    assert parsed.has_lookups is has_lookups


# --- 400s that say what to fix --------------------------------------------------------------


@pytest.mark.parametrize("filters", [{"name": "a", "operator": "=", "value": 1}, "a = 1", 5, True])
def test_filters_must_be_a_list(filters: Any) -> None:
    assert bad(filters) == "filters must be a list of {name, operator, value} objects."


@pytest.mark.parametrize("filter_op", ["XOR", "NOT", "AND OR", "&&"])
def test_filter_op_must_be_and_or_or(filter_op: str) -> None:
    assert bad([{"name": "a", "operator": "=", "value": 1}], filter_op) == (
        "filter_op must be AND or OR."
    )


@pytest.mark.parametrize("spec", ["a = 1", 5, None, ["a", "=", 1]])
def test_each_filter_must_be_an_object(spec: Any) -> None:
    assert bad_one(spec) == "Row filter 1 must be an object with name, operator and value."


@pytest.mark.parametrize(
    "name",
    [None, "", "   ", "a b", "a'b", 'a"b', "a(b", "a)", "x" * 64],
)
def test_name_must_be_a_column_name(name: Any) -> None:
    spec = (
        {"operator": "=", "value": 1}
        if name is None
        else {"name": name, "operator": "=", "value": 1}
    )
    assert bad_one(spec) == (
        "Row filter 1 needs a field 'name' (a column name, no spaces or quotes)."
    )


def test_longest_accepted_name() -> None:
    assert one("=", 1, name="x" * 63) == Condition("x" * 63, "=", V("1"))


@pytest.mark.parametrize("operator", ["between", "==", "eq", "starts", "regex", "", None])
def test_unknown_operator(operator: Any) -> None:
    message = bad_one({"name": "a", "operator": operator, "value": 1})
    assert message.startswith(f"Row filter 1 has an unknown operator '{operator}'; use one of ")
    for listed in ("=", "!=", "in", "not in", "contains", "starts with", "is not null"):
        assert f" {listed}," in message or f" {listed}." in message


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_value(value: Any) -> None:
    spec: dict[str, Any] = {"name": "a", "operator": "Starts With"}
    if value is not None:
        spec["value"] = value
    assert bad_one(spec) == "Row filter 1 needs a 'value' for operator 'starts with'."


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("=", "'west"),
        ("=", "west coast"),
        ("=", "(1, 2)"),
        ("in", "1"),
        ("in", "[1, 2]"),
        ("in", [1, 2]),
        ("in", "()"),
        ("=", "x') OR (1=1"),
        ("=", "1 OR 1=1"),
        ("=", ":param"),
        (">", "= 1"),
    ],
)
def test_unparsable_value(operator: str, value: Any) -> None:
    message = bad_one({"name": "a", "operator": operator, "value": value})
    assert message.startswith("Row filter 1 has a value that cannot be parsed (")
    assert message.endswith("Quote strings: 'west'; lists go in parentheses: (1, 2).")


@pytest.mark.parametrize(
    ("operator", "value"), [("=", "1 OR (x = 1)"), ("in", "(1) OR (x = 1)"), ("=", "1 AND b = 2")]
)
def test_value_that_adds_a_condition_is_refused(operator: str, value: str) -> None:
    assert bad_one({"name": "a", "operator": operator, "value": value}) == (
        "Row filter 1 must be one condition; combine several with filter_op."
    )


def test_error_names_the_filter_at_fault() -> None:
    filters = [
        {"name": "a", "operator": "=", "value": 1},
        {"name": "b", "operator": "=", "value": 2},
        {"name": "c", "operator": "nope", "value": 3},
    ]
    assert bad(filters).startswith("Row filter 3 has an unknown operator 'nope'")


# --- lookups -------------------------------------------------------------------------------


def test_whole_value_lookup_keeps_its_type() -> None:
    node = sub("=", "{user.id}", USER)
    assert node == Condition("col", "=", S(7))
    assert isinstance(node, Condition) and isinstance(node.value, Value)
    assert type(node.value.raw) is int


def test_whole_value_string_lookup() -> None:
    assert sub("=", "{user.email}", USER) == Condition("col", "=", S("ann@example.com"))


def test_lookup_in_a_list() -> None:
    assert sub("in", "(1, {user.id}, {role.id})", USER) == Condition(
        "col", "in", (V("1"), S(7), S(3))
    )


def test_lookup_inside_a_quoted_string_is_text() -> None:
    assert sub("like", "'%{user.email}%'", USER) == Condition("col", "like", Q("%ann@example.com%"))
    assert sub("=", "'u{user.id}-{role.id}'", USER) == Condition("col", "=", Q("u7-3"))


@pytest.mark.parametrize("value", ["{custom}", "{app.id}", "'{df.name}'", "'x{nope}y'"])
def test_unknown_lookups_stay_unchanged(value: str) -> None:
    parsed = parse_filters([{"name": "col", "operator": "=", "value": value}])
    assert parsed is not None
    assert combine_groups((parsed,), USER) == parsed.node
    assert combine_groups((parsed,), {}) == parsed.node


def test_non_user_lookups_need_no_user() -> None:
    assert sub("=", "{role.id}", {"role.id": 3}) == Condition("col", "=", S(3))


@pytest.mark.parametrize("value", ["{user.id}", "'%{user.email}%'", "(1, {user.id})"])
def test_user_lookup_without_a_user_is_401(value: str) -> None:
    operator = "in" if value.startswith("(") else "="
    with pytest.raises(NeedsUser) as info:
        sub(operator, value, {"role.id": 3, "app.id": 1})
    assert info.value.status == 401
    assert info.value.message == "Unauthorized. User is not authenticated."


@pytest.mark.parametrize("token", ["user.username", "user.last_login_date", "user.ldap_username"])
def test_logged_in_user_is_not_told_they_are_unauthenticated(token: str) -> None:
    user = UserSnapshot(id=7, email="ann@example.com", is_active=True, is_admin=False)
    principal = Principal(session=Session(user=user, jti="j", exp=0), app=None, api_key_given=True)
    node = sub("=", f"{{{token}}}", lookups_for(principal))
    assert isinstance(node, Condition) and node.field == "col"


def test_parsed_group_is_reused_across_requests() -> None:
    parsed = parse_filters([{"name": "owner_id", "operator": "=", "value": "{user.id}"}])
    assert parsed is not None
    assert combine_groups((parsed,), {"user.id": 1}) == Condition("owner_id", "=", S(1))
    assert combine_groups((parsed,), {"user.id": 2}) == Condition("owner_id", "=", S(2))
    assert parsed.node == Condition("owner_id", "=", V("{user.id}"))


def test_substituted_values_are_not_expanded_again() -> None:
    lookups = {"user.first_name": "{user.id}", "user.id": 7, "user.email": "{role.id}"}
    assert sub("=", "{user.first_name}", lookups) == Condition("col", "=", S("{user.id}"))
    assert sub("=", "'<{user.email}>'", lookups) == Condition("col", "=", Q("<{role.id}>"))


def test_substitute_walks_and_or_not() -> None:
    lookup = Condition("a", "=", V("{user.id}"))
    plain = Condition("b", "is null", None)
    tree = And((Not(Or((lookup, plain))), lookup))
    done = Condition("a", "=", S(7))
    assert substitute(tree, USER) == And((Not(Or((done, plain))), done))


def test_combine_groups() -> None:
    first = parse_filters([{"name": "owner_id", "operator": "=", "value": "{user.id}"}])
    second = parse_filters(
        [
            {"name": "region", "operator": "=", "value": "'west'"},
            {"name": "x", "operator": "is null"},
        ]
    )
    assert first is not None and second is not None
    assert combine_groups((first,), USER) == Condition("owner_id", "=", S(7))
    assert combine_groups((second,), {}) == second.node
    assert combine_groups((first, second), USER) == Or(
        (Condition("owner_id", "=", S(7)), second.node)
    )


# --- injection: a lookup value is one literal, never structure ------------------------------


@pytest.mark.parametrize("payload", INJECTIONS)
def test_whole_value_lookup_cannot_inject(payload: str) -> None:
    node = sub("=", "{user.email}", {**USER, "user.email": payload}, name="owner")
    assert node == Condition("owner", "=", S(payload))
    assert isinstance(node, Condition) and isinstance(node.value, Value)
    assert node.value.raw == payload


@pytest.mark.parametrize("payload", INJECTIONS)
def test_lookup_inside_a_string_cannot_inject(payload: str) -> None:
    node = sub("like", "'%{user.email}%'", {**USER, "user.email": payload}, name="owner")
    assert node == Condition("owner", "like", Q(f"%{payload}%"))


@pytest.mark.parametrize("payload", INJECTIONS)
def test_lookup_in_a_list_cannot_inject(payload: str) -> None:
    node = sub("in", "('a', {user.email})", {**USER, "user.email": payload}, name="owner")
    assert node == Condition("owner", "in", (Q("a"), S(payload)))


@pytest.mark.parametrize("payload", INJECTIONS)
def test_lookup_cannot_change_a_group(payload: str) -> None:
    parsed = parse_filters(
        [
            {"name": "owner", "operator": "=", "value": "{user.email}"},
            {"name": "deleted", "operator": "is null"},
        ],
        "AND",
    )
    assert parsed is not None
    node = combine_groups((parsed,), {**USER, "user.email": payload})
    assert node == And((Condition("owner", "=", S(payload)), Condition("deleted", "is null", None)))


@given(payload=st.text(max_size=60))
def test_any_lookup_value_is_one_literal(payload: str) -> None:
    lookups = {**USER, "user.email": payload}
    assert sub("=", "{user.email}", lookups, name="owner") == Condition("owner", "=", S(payload))
    assert sub("like", "'{user.email}%'", lookups, name="owner") == Condition(
        "owner", "like", Q(f"{payload}%")
    )
