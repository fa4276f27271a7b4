"""Access rules of a role and the most-specific-level match of spec §8.2. Pure: no DB, no HTTP.

A rule grants verbs on one service (or all) and a component glob. For a request the rules are
tried level by level, exact > component wildcard > service `*` > all services; the first level
with any matching rule wins and the masks of its rules are ORed (a more specific level
replaces a less specific one, it never adds to it). Among component wildcards the longest
prefix is the more specific (`_table/orders/*` over `_table/*`); DF ORs them (see
docs/compatibility.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.plan.filter_ast import Node

API_REQUESTOR = 1
SCRIPT_REQUESTOR = 2

# Components no wildcard reaches: `_sql` runs any statement, outside every row filter, so only
# a rule naming it exactly grants it.
EXPLICIT_ONLY = frozenset({"_sql"})

EXACT, COMPONENT_WILDCARD, SERVICE_WILDCARD, ALL_SERVICES = 1, 2, 3, 4

_CALL_ARGS = re.compile(r"\(.*$")


@dataclass(frozen=True, slots=True)
class RowFilterGroup:
    """A rule's row filters, already parsed: one AST (its conditions joined by filter_op)."""

    node: Node
    has_lookups: bool  # some value names a {lookup}: substitute per request


@dataclass(frozen=True, slots=True)
class AccessRule:
    service_id: int | None  # None: every service
    component: str  # normalised: lower-case, no '/' at either end
    verbs: int
    requestors: int = API_REQUESTOR
    filters: RowFilterGroup | None = None


def normalize_component(text: str) -> str:
    """How a rule's component and a request's resource path are compared (spec §8.2).

    Lower-case, `/` trimmed at both ends, and a routine's inline `(args)` removed.
    """
    return _CALL_ARGS.sub("", text.strip().strip("/")).strip("/").lower()


def _wildcard_matches(rule_component: str, component: str) -> bool:
    """`_table/*` matches `_table`, `_table/x`, `_table/x/1`: the text before `*` must start
    `component + "/"`."""
    prefix = rule_component.split("*", 1)[0]
    return (component + "/").startswith(prefix)


def match_level(rule: AccessRule, service_id: int | None, component: str) -> int | None:
    """The level at which `rule` matches (EXACT .. ALL_SERVICES), or None."""
    explicit_only = component in EXPLICIT_ONLY
    if rule.service_id is None:
        if explicit_only:
            return None
        if rule.component == "*" or (not component and rule.component == ""):
            return ALL_SERVICES
        return None
    if rule.service_id != service_id:
        return None
    if rule.component == component:
        return EXACT
    if explicit_only or not component:
        return SERVICE_WILDCARD if rule.component == "*" and not explicit_only else None
    if rule.component == "*":
        return SERVICE_WILDCARD
    if "*" in rule.component and _wildcard_matches(rule.component, component):
        return COMPONENT_WILDCARD
    return None


def _rank(rule: AccessRule, level: int) -> tuple[int, int]:
    """Specificity, smaller first: the level, then, among component wildcards, the longer
    prefix (`_table/orders/*` is more specific than `_table/*`)."""
    if level == COMPONENT_WILDCARD:
        return level, -len(rule.component.split("*", 1)[0])
    return level, 0


def winning_rules(
    rules: tuple[AccessRule, ...],
    service_id: int | None,
    component: str,
    requestor: int = API_REQUESTOR,
) -> tuple[tuple[AccessRule, ...], int | None]:
    """The rules of the most specific level that matches, and that level."""
    best: tuple[int, int] | None = None
    found: list[AccessRule] = []
    for rule in rules:
        if not rule.requestors & requestor:
            continue
        level = match_level(rule, service_id, component)
        if level is None:
            continue
        rank = _rank(rule, level)
        if best is None or rank < best:
            best, found = rank, [rule]
        elif rank == best:
            found.append(rule)
    return tuple(found), (best[0] if best is not None else None)


def mask_for(
    rules: tuple[AccessRule, ...],
    service_id: int | None,
    component: str,
    requestor: int = API_REQUESTOR,
) -> int:
    """The verbs the rules allow on (service, component): ORed over the winning level."""
    winners, _level = winning_rules(rules, service_id, component, requestor)
    mask = 0
    for rule in winners:
        mask |= rule.verbs
    return mask


def filters_for(
    rules: tuple[AccessRule, ...], service_id: int | None, component: str, verb_bit: int
) -> tuple[RowFilterGroup, ...] | None:
    """The row filter groups that apply to a granted call; None means no row filter.

    Among the winning level's rules that grant the verb, any rule without filters grants the
    whole table; otherwise a row passes when it passes one rule's filters (they are ORed).
    All-services rules carry no filters (spec §8.4).
    """
    return decide(rules, service_id, component, verb_bit)[1]


def decide(
    rules: tuple[AccessRule, ...], service_id: int | None, component: str, verb_bit: int
) -> tuple[int, tuple[RowFilterGroup, ...] | None]:
    """mask_for() and filters_for() from one pass over the rules (the per-request path)."""
    winners, level = winning_rules(rules, service_id, component)
    mask = 0
    for rule in winners:
        mask |= rule.verbs
    return mask, _groups(winners, level, verb_bit)


def _groups(
    winners: tuple[AccessRule, ...], level: int | None, verb_bit: int
) -> tuple[RowFilterGroup, ...] | None:
    granting = [r for r in winners if r.verbs & verb_bit]
    if not granting or level == ALL_SERVICES:
        return None
    if any(r.filters is None for r in granting):
        return None
    return tuple(r.filters for r in granting if r.filters is not None)
