"""Unit tests for access-rule matching (`rbac.rules`, spec §8.2): no database, no HTTP.

The mask for (service, component) comes from the most specific level that has any matching rule:
exact > component wildcard > service `*` > all services; masks are ORed within that level only.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.verbs import ALL_VERBS, DELETE, GET, PATCH, POST, PUT
from rbac.rules import (
    ALL_SERVICES,
    API_REQUESTOR,
    COMPONENT_WILDCARD,
    EXACT,
    SCRIPT_REQUESTOR,
    SERVICE_WILDCARD,
    AccessRule,
    RowFilterGroup,
    filters_for,
    mask_for,
    match_level,
    normalize_component,
    winning_rules,
)
from services.plan.filter_ast import Condition, Value

SVC = 5  # the service the requests go to
OTHER = 6  # another service
BOTH_REQUESTORS = API_REQUESTOR | SCRIPT_REQUESTOR


def R(
    component: str,
    verbs: int,
    service_id: int | None = SVC,
    requestors: int = API_REQUESTOR,
    filters: RowFilterGroup | None = None,
) -> AccessRule:
    """A rule as the catalog builds it: the component normalised."""
    return AccessRule(service_id, normalize_component(component), verbs, requestors, filters)


def mask(rules: list[AccessRule], component: str, requestor: int = API_REQUESTOR) -> int:
    """The mask a request for `component` of SVC gets (normalised as the policy does)."""
    return mask_for(tuple(rules), SVC, normalize_component(component), requestor)


def group(field: str) -> RowFilterGroup:
    """A row filter group `field = 1`."""
    return RowFilterGroup(Condition(field, "=", Value("1")), has_lookups=False)


def filters(
    rules: list[AccessRule], component: str, verb: int
) -> tuple[RowFilterGroup, ...] | None:
    return filters_for(tuple(rules), SVC, normalize_component(component), verb)


# --- normalize_component -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("_table/orders", "_table/orders"),
        ("/_table/orders/", "_table/orders"),
        ("_Table/ORDERS", "_table/orders"),
        ("  /_TABLE/Orders/  ", "_table/orders"),
        ("_table/", "_table"),
        ("_table/orders/*", "_table/orders/*"),
        ("/*/", "*"),
        ("*", "*"),
        ("", ""),
        ("/", ""),
        ("_func/f(1,2)", "_func/f"),
        ("_func/F(1, 'a/b')", "_func/f"),
        ("/_proc/MyProc()/", "_proc/myproc"),
        ("_SQL/", "_sql"),
    ],
)
def test_normalize_component(text: str, expected: str) -> None:
    assert normalize_component(text) == expected


def test_case_and_surrounding_slashes_are_ignored_on_both_sides() -> None:
    rules = [R("/_Table/Orders/", GET | POST)]
    assert mask(rules, "_table/orders") == GET | POST
    assert mask(rules, "/_TABLE/orders/") == GET | POST
    assert mask(rules, "_table/orders/1") == 0  # an exact rule: no records below it


def test_routine_inline_args_are_ignored() -> None:
    rules = [R("_func/f", GET), R("_proc/p", POST)]
    assert mask(rules, "_func/f(1,2)") == GET
    assert mask(rules, "_func/F( 'x' )") == GET
    assert mask(rules, "_proc/p()") == POST
    assert mask(rules, "_func/g(1)") == 0
    assert mask(rules, "_func/fx(1)") == 0


# --- match_level ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule_service", "rule_component", "component", "level"),
    [
        (SVC, "_table/orders", "_table/orders", EXACT),
        (SVC, "_table/*", "_table/orders", COMPONENT_WILDCARD),
        (SVC, "_table/orders/*", "_table/orders", COMPONENT_WILDCARD),
        (SVC, "*", "_table/orders", SERVICE_WILDCARD),
        (None, "*", "_table/orders", ALL_SERVICES),
        (OTHER, "_table/orders", "_table/orders", None),
        (OTHER, "*", "_table/orders", None),
        (SVC, "_table/customers", "_table/orders", None),
        (SVC, "_schema/*", "_table/orders", None),
        (SVC, "", "_table/orders", None),
        (None, "", "_table/orders", None),
        (None, "_table/*", "_table/orders", None),
        # the service root
        (SVC, "", "", EXACT),
        (SVC, "*", "", SERVICE_WILDCARD),
        (SVC, "_table/*", "", None),
        (None, "*", "", ALL_SERVICES),
        (None, "", "", ALL_SERVICES),
        # _sql: only an exact rule
        (SVC, "_sql", "_sql", EXACT),
        (SVC, "*", "_sql", None),
        (SVC, "_sql/*", "_sql", None),
        (SVC, "_s*", "_sql", None),
        (None, "*", "_sql", None),
        (None, "_sql", "_sql", None),
    ],
)
def test_match_level(
    rule_service: int | None, rule_component: str, component: str, level: int | None
) -> None:
    assert match_level(R(rule_component, GET, rule_service), SVC, component) == level


# --- levels: the most specific one wins, ORed within it --------------------------------------


def test_spec_example_star_get_and_exact_post() -> None:
    """{*: GET} and {app: POST}: POST only on `app`, GET elsewhere (spec §8.2)."""
    rules = [R("*", GET), R("app", POST)]
    assert mask(rules, "app") == POST
    assert mask(rules, "role") == GET
    assert mask(rules, "app/1") == GET


def test_spec_example_exact_get_and_wildcard_post() -> None:
    """{app: GET} and {app/*: POST}: GET on `app`, POST on `app/1` (spec §8.2)."""
    rules = [R("app", GET), R("app/*", POST)]
    assert mask(rules, "app") == GET
    assert mask(rules, "app/1") == POST
    assert mask(rules, "app/1/x") == POST
    assert mask(rules, "role") == 0


def test_each_level_replaces_the_less_specific_ones() -> None:
    rules = [
        R("*", DELETE, service_id=None),
        R("*", PATCH),
        R("_table/*", PUT),
        R("_table/orders", POST),
    ]
    assert mask(rules, "_table/orders") == POST
    assert mask(rules, "_table/customers") == PUT
    assert mask(rules, "_table") == PUT
    assert mask(rules, "_schema/orders") == PATCH
    assert mask(rules, "") == PATCH
    assert mask_for(tuple(rules), OTHER, "_table/orders") == DELETE
    assert mask_for(tuple(rules), OTHER, "") == DELETE


@pytest.mark.parametrize(
    ("rules", "component", "expected"),
    [
        ([R("_table/orders", GET), R("/_TABLE/orders/", POST)], "_table/orders", GET | POST),
        ([R("_table/*", GET), R("_table/*", DELETE)], "_table/orders/5", GET | DELETE),
        ([R("_table/orders/*", GET), R("_TABLE/orders/*", POST)], "_table/orders/5", GET | POST),
        ([R("_table/*", GET), R("_table/orders/*", DELETE)], "_table/customers", GET),
        ([R("*", GET), R("*", PATCH)], "_table/x", GET | PATCH),
        ([R("*", GET, None), R("*", PUT, None)], "_table/x", GET | PUT),
    ],
)
def test_masks_are_ored_within_the_winning_level(
    rules: list[AccessRule], component: str, expected: int
) -> None:
    assert mask(rules, component) == expected


def test_an_exact_rule_without_verbs_still_wins_its_level() -> None:
    """Fail closed: the catalog zeroes a rule whose filters no longer parse; the broader `*`
    rule must not take over."""
    rules = [R("*", ALL_VERBS), R("_table/orders", 0)]
    assert mask(rules, "_table/orders") == 0
    assert mask(rules, "_table/customers") == ALL_VERBS


def test_rules_of_another_service_do_not_apply() -> None:
    rules = [R("*", ALL_VERBS, OTHER), R("_table/orders", GET, OTHER)]
    assert mask(rules, "_table/orders") == 0
    assert mask(rules, "") == 0
    assert mask_for(tuple(rules), OTHER, "_table/orders") == GET


def test_no_rules_no_access() -> None:
    assert mask([], "_table/orders") == 0
    assert mask([], "") == 0


# --- component wildcards -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "matches"),
    [
        ("_table", True),
        ("_table/", True),
        ("_table/x", True),
        ("_table/x/1", True),
        ("_TABLE/X", True),
        ("_tablex", False),
        ("_tables/x", False),
        ("_schema/x", False),
        ("", False),
    ],
)
def test_table_star(component: str, matches: bool) -> None:
    assert mask([R("_table/*", GET)], component) == (GET if matches else 0)


@pytest.mark.parametrize(
    ("component", "matches"),
    [
        ("_table/orders", True),
        ("_table/orders/", True),
        ("_table/orders/5", True),
        ("_table/Orders/5", True),
        ("_table/ordersx", False),
        ("_table/ordersx/5", False),
        ("_table/order", False),
        ("_table", False),
        ("_table/customers/5", False),
    ],
)
def test_table_orders_star(component: str, matches: bool) -> None:
    assert mask([R("_table/orders/*", GET)], component) == (GET if matches else 0)


# --- the service root (empty component) -----------------------------------------------------


def test_root_rule_grants_only_the_root() -> None:
    rules = [R("", GET)]
    assert mask(rules, "") == GET
    assert mask(rules, "/") == GET
    assert mask(rules, "_table") == 0
    assert mask(rules, "_table/orders") == 0


def test_root_rule_beats_service_star_at_the_root() -> None:
    rules = [R("*", ALL_VERBS), R("", GET)]
    assert mask(rules, "") == GET
    assert mask(rules, "_table/orders") == ALL_VERBS


def test_service_star_and_all_services_reach_the_root() -> None:
    assert mask([R("*", POST)], "") == POST
    assert mask([R("*", POST, None)], "") == POST
    assert mask([R("", PUT, None)], "") == PUT
    assert mask([R("", PUT, None)], "_table") == 0
    assert mask([R("*", POST), R("", PUT, None)], "") == POST


def test_component_wildcard_does_not_reach_the_root() -> None:
    assert mask([R("_table/*", GET)], "") == 0
    assert mask([R("_table/*", GET), R("*", POST, None)], "") == POST


# --- requestor mask ------------------------------------------------------------------------


def test_script_only_rule_does_not_apply_to_api_calls() -> None:
    rules = [R("_table/orders", GET, requestors=SCRIPT_REQUESTOR), R("*", POST)]
    assert mask(rules, "_table/orders") == POST  # the script rule does not even win the level
    assert mask(rules, "_table/orders", SCRIPT_REQUESTOR) == GET
    assert mask([R("*", GET, requestors=SCRIPT_REQUESTOR)], "_table/x") == 0


def test_rule_for_both_requestors_applies_to_each() -> None:
    rules = [R("_table/orders", GET, requestors=BOTH_REQUESTORS)]
    assert mask(rules, "_table/orders") == GET
    assert mask(rules, "_table/orders", SCRIPT_REQUESTOR) == GET


def test_api_only_rule_does_not_apply_to_scripts() -> None:
    assert mask([R("*", GET)], "_table/x", SCRIPT_REQUESTOR) == 0


# --- _sql: exact rules only ----------------------------------------------------------------


def test_sql_is_not_granted_by_any_wildcard() -> None:
    rules = [
        R("*", ALL_VERBS),
        R("*", ALL_VERBS, None),
        R("", ALL_VERBS, None),
        R("_sql/*", ALL_VERBS),
        R("_s*", ALL_VERBS),
    ]
    assert mask(rules, "_sql") == 0
    assert mask(rules, "/_SQL/") == 0
    assert mask(rules, "_table/orders") == ALL_VERBS  # the same rules do grant other things


def test_sql_is_granted_by_an_exact_rule() -> None:
    rules = [R("*", ALL_VERBS), R("/_SQL/", GET)]
    assert mask(rules, "_sql") == GET
    assert mask([R("_sql", POST, None)], "_sql") == 0  # not by an all-services rule either


# --- winning_rules -------------------------------------------------------------------------


def test_winning_rules_gives_the_rules_and_level() -> None:
    a, b, star = R("app/*", GET), R("app/*", POST), R("*", PUT)
    assert winning_rules((star, a, b), SVC, "app/1") == ((a, b), COMPONENT_WILDCARD)
    assert winning_rules((star, a, b), SVC, "role") == ((star,), SERVICE_WILDCARD)
    assert winning_rules((a, b), SVC, "role") == ((), None)


# --- filters_for ---------------------------------------------------------------------------


def test_filters_of_the_one_granting_rule() -> None:
    rules = [R("_table/orders", GET, filters=group("a"))]
    assert filters(rules, "_table/orders", GET) == (group("a"),)


def test_filters_of_several_granting_rules_are_all_returned() -> None:
    rules = [
        R("_table/orders", GET, filters=group("a")),
        R("_table/orders", GET, filters=group("b")),
    ]
    assert filters(rules, "_table/orders", GET) == (group("a"), group("b"))


def test_a_granting_rule_without_filters_lifts_the_filter() -> None:
    rules = [R("_table/orders", GET, filters=group("a")), R("_table/orders", GET | POST)]
    assert filters(rules, "_table/orders", GET) is None


def test_only_rules_granting_the_verb_count() -> None:
    rules = [R("_table/orders", GET, filters=group("a")), R("_table/orders", POST)]
    # the unfiltered POST rule must not lift the GET rule's filter
    assert filters(rules, "_table/orders", GET) == (group("a"),)
    assert filters(rules, "_table/orders", POST) is None
    rules = [
        R("_table/orders", GET, filters=group("a")),
        R("_table/orders", POST, filters=group("b")),
    ]
    assert filters(rules, "_table/orders", POST) == (group("b"),)


def test_less_specific_rules_do_not_change_the_filters() -> None:
    filtered_exact = [R("_table/orders", GET, filters=group("a")), R("*", GET)]
    assert filters(filtered_exact, "_table/orders", GET) == (group("a"),)
    unfiltered_exact = [R("_table/orders", GET), R("*", GET, filters=group("b"))]
    assert filters(unfiltered_exact, "_table/orders", GET) is None
    assert filters(unfiltered_exact, "_table/customers", GET) == (group("b"),)


def test_wildcard_rule_filters_apply_to_records() -> None:
    rules = [R("_table/orders/*", GET | PATCH, filters=group("a"))]
    assert filters(rules, "_table/orders/5", PATCH) == (group("a"),)
    assert filters(rules, "_table/orders", GET) == (group("a"),)


def test_all_services_rules_carry_no_filters() -> None:
    rules = [R("*", GET, None, filters=group("a"))]
    assert mask(rules, "_table/orders") == GET
    assert filters(rules, "_table/orders", GET) is None


def test_script_only_rules_give_no_filters_to_api_calls() -> None:
    rules = [
        R("_table/orders", GET, requestors=SCRIPT_REQUESTOR, filters=group("a")),
        R("*", GET, filters=group("b")),
    ]
    assert filters(rules, "_table/orders", GET) == (group("b"),)


def test_no_filters_when_nothing_grants_the_verb() -> None:
    rules = [R("_table/orders", GET, filters=group("a"))]
    assert mask(rules, "_table/orders") & DELETE == 0
    assert filters(rules, "_table/orders", DELETE) is None
    assert filters(rules, "_table/customers", GET) is None


# --- properties ----------------------------------------------------------------------------

COMPONENTS = [
    "",
    "*",
    "_table",
    "_table/*",
    "_table/orders",
    "_table/orders/*",
    "_table/orders/5",
    "_table/customers",
    "_schema/*",
    "_sql",
    "_func/f",
]

rule_strategy = st.builds(
    R,
    component=st.sampled_from(COMPONENTS),
    verbs=st.integers(0, ALL_VERBS),
    service_id=st.sampled_from([SVC, OTHER, None]),
    requestors=st.sampled_from([API_REQUESTOR, SCRIPT_REQUESTOR, BOTH_REQUESTORS]),
    filters=st.one_of(st.none(), st.sampled_from([group("a"), group("b")])),
)


@given(
    others=st.lists(rule_strategy, max_size=12),
    verbs=st.lists(st.integers(0, ALL_VERBS), min_size=1, max_size=3),
    positions=st.lists(st.integers(0, 12), min_size=3, max_size=3),
    component=st.sampled_from(["_table/orders", "_table/orders/5", "_table", "", "_sql"]),
)
def test_exact_rules_decide_the_mask_whatever_else_and_in_any_order(
    others: list[AccessRule], verbs: list[int], positions: list[int], component: str
) -> None:
    others = [r for r in others if match_level(r, SVC, component) != EXACT]
    rules = list(others)
    expected = 0
    for bits, position in zip(verbs, positions, strict=False):
        rules.insert(min(position, len(rules)), R(component, bits))
        expected |= bits
    assert mask(rules, component) == expected


@given(
    others=st.lists(rule_strategy, max_size=12),
    verbs=st.integers(0, ALL_VERBS),
    position=st.integers(0, 12),
)
def test_component_wildcard_beats_service_and_all_services_rules(
    others: list[AccessRule], verbs: int, position: int
) -> None:
    component = "_table/orders/5"
    others = [
        r for r in others if match_level(r, SVC, component) not in (EXACT, COMPONENT_WILDCARD)
    ]
    rules = list(others)
    rules.insert(min(position, len(rules)), R("_table/orders/*", verbs))
    assert mask(rules, component) == verbs


@given(rules=st.lists(rule_strategy, max_size=12), data=st.data())
def test_mask_and_filters_do_not_depend_on_rule_order(
    rules: list[AccessRule], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(rules))
    component = normalize_component(data.draw(st.sampled_from(COMPONENTS)))
    for requestor in (API_REQUESTOR, SCRIPT_REQUESTOR):
        assert mask(shuffled, component, requestor) == mask(rules, component, requestor)
    for verb in (GET, POST, PUT, PATCH, DELETE):
        before = filters(rules, component, verb)
        after = filters(shuffled, component, verb)
        assert (before is None) == (after is None)
        if before is not None and after is not None:
            assert sorted(map(repr, before)) == sorted(map(repr, after))


@pytest.mark.parametrize(
    ("component", "expected"),
    [("_table/orders/5", DELETE), ("_table/orders", DELETE), ("_table/customers", GET)],
)
def test_the_longer_wildcard_is_the_more_specific(component: str, expected: int) -> None:
    """`_table/orders/*` replaces `_table/*` for orders (DF would OR them), so a row filter
    on the orders rule cannot be undone by the table-wide rule."""
    rules = (R("_table/*", GET), R("_table/orders/*", DELETE))
    assert mask(list(rules), component) == expected
    assert mask(list(reversed(rules)), component) == expected
