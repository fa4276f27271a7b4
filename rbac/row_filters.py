"""Row filters of access rules (spec §8.4): stored `{name, operator, value}` -> filter AST.

A rule's filters are parsed once, when the role is loaded, with the same grammar as client
filters; `{lookup}` tokens (`{user.id}`, `{user.email}`, ...) are substituted into the parsed
values per request, never into filter text, so a user's attributes can never change a filter's
structure. The result is ANDed onto every read and write the role makes
(services/execution/tables.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.errors import BadRequest, GatewayError, InternalError
from lookups.text import TOKEN, as_text, resolve, token_name
from rbac.rules import RowFilterGroup, normalize_component
from rbac.system_rules import system_component
from services.catalog.schema_cache import Table
from services.plan.bind_names import bind_filter
from services.plan.filter_ast import And, Condition, Node, Not, Or, Value
from services.plan.filters import parse_filter
from services.plan.types import BoundNode

# Operator spellings accepted in stored filters (case-insensitive) -> the grammar's spelling.
# DF's set, plus `like`/`not like` and the admin UI's "start with"/"end with" (spec §8.4).
OPERATORS = {
    "=": "=",
    "!=": "!=",
    "<>": "!=",
    ">": ">",
    "<": "<",
    ">=": ">=",
    "<=": "<=",
    "in": "IN",
    "not in": "NOT IN",
    "like": "LIKE",
    "not like": "NOT LIKE",
    "contains": "CONTAINS",
    "starts with": "STARTS WITH",
    "start with": "STARTS WITH",
    "ends with": "ENDS WITH",
    "end with": "ENDS WITH",
    "is null": "IS NULL",
    "is not null": "IS NOT NULL",
}
_NO_VALUE = frozenset({"IS NULL", "IS NOT NULL"})
_FIELD = re.compile(r"^[^\s()'\"]{1,63}$")
_LOOKUP = TOKEN  # `{name}`, `{user.id}`, `{strtolower(user.email)}`
_PLACEHOLDER_FIELD = "rf_field"

log = logging.getLogger(__name__)

INVALID_CONFIG = "Invalid server-side filter configuration detected."


class NeedsUser(GatewayError):
    """A row filter names a `{user.*}` lookup but no user is logged in (the lookups carry no
    `user.id`); an unknown `{user.*}` name with a user stays as written, as in DF."""

    status = 401
    default_message = "Unauthorized. User is not authenticated."


def _condition(spec: Any, index: int) -> Condition:
    """One stored filter -> a Condition; a 400 that names the filter and what is wrong."""
    where = f"Row filter {index + 1}"
    if not isinstance(spec, dict):
        raise BadRequest(f"{where} must be an object with name, operator and value.")
    name = str(spec.get("name") or "").strip()
    operator = " ".join(str(spec.get("operator") or "").split()).lower()
    if not name or not _FIELD.match(name):
        raise BadRequest(f"{where} needs a field 'name' (a column name, no spaces or quotes).")
    if operator not in OPERATORS:
        raise BadRequest(
            f"{where} has an unknown operator '{spec.get('operator')}'; use one of "
            "=, !=, >, <, >=, <=, in, not in, like, not like, contains, starts with, "
            "ends with, is null, is not null."
        )
    op = OPERATORS[operator]
    value = spec.get("value")
    if op in _NO_VALUE:
        text = f"{_PLACEHOLDER_FIELD} {op}"
    else:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadRequest(f"{where} needs a 'value' for operator '{operator}'.")
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = f"{_PLACEHOLDER_FIELD} {op} {value}"
    try:
        node = parse_filter(text)
    except BadRequest as exc:
        detail = (exc.context or {}).get("filter_error", exc.message)
        raise BadRequest(
            f"{where} has a value that cannot be parsed ({detail}). Quote strings: 'west'; "
            "lists go in parentheses: (1, 2)."
        ) from None
    if not isinstance(node, Condition):
        raise BadRequest(f"{where} must be one condition; combine several with filter_op.")
    return replace(node, field=name)


def parse_filters(filters: Any, filter_op: str = "AND") -> RowFilterGroup | None:
    """A rule's stored filters as one group; None when it has none. 400s say what to fix."""
    op = str(filter_op or "AND").strip().upper()
    if op not in ("AND", "OR"):
        raise BadRequest("filter_op must be AND or OR.")
    if filters in (None, "", []):
        return None
    if not isinstance(filters, list):
        raise BadRequest("filters must be a list of {name, operator, value} objects.")
    conditions = tuple(_condition(spec, i) for i, spec in enumerate(filters))
    node: Node = conditions[0] if len(conditions) == 1 else (And if op == "AND" else Or)(conditions)
    return RowFilterGroup(node=node, has_lookups=any(_has_lookup(c) for c in conditions))


def check_rule(service_id: int | None, component: str, filters: Any, filter_op: str) -> None:
    """The checks a stored access rule must pass (API and admin alike): 400 saying what to fix."""
    parse_filters(filters, filter_op)
    normal = normalize_component(component or "")
    if service_id is None and system_component(normal) is not None:
        if filters:
            raise BadRequest("A rule for the system API (component 'system/...') has no filters.")
        return
    if service_id is None and normal not in ("*", ""):
        raise BadRequest(
            "A rule for all services (no service) applies to component '*' only, or to the "
            "system API as 'system/...'; name a service to grant a narrower component."
        )
    if service_id is None and filters:
        raise BadRequest("Row filters need a service: a rule for all services cannot have any.")


def _values(cond: Condition) -> tuple[Value, ...]:
    if cond.value is None:
        return ()
    return cond.value if isinstance(cond.value, tuple) else (cond.value,)


def _has_lookup(cond: Condition) -> bool:
    return any(isinstance(v.raw, str) and _LOOKUP.search(v.raw) for v in _values(cond))


def _substitute_value(value: Value, lookups: Mapping[str, Any]) -> Value:
    raw = value.raw
    if not isinstance(raw, str) or "{" not in raw:
        return value
    whole = _LOOKUP.fullmatch(raw)
    if whole:
        _needs_user(whole, lookups)
        name = token_name(whole)
        if name in lookups:
            found = resolve(whole, lookups)
            if "." not in name:  # an admin's lookup, not the caller's own attribute
                found = _unquoted(found)
            return Value(raw="" if found is None else found, quoted=True, from_param=True)
        return value  # unknown tokens stay as written (spec §7.6)

    def one(match: re.Match[str]) -> str:
        _needs_user(match, lookups)
        return as_text(resolve(match, lookups))

    return replace(value, raw=_LOOKUP.sub(one, raw))


def _needs_user(match: re.Match[str], lookups: Mapping[str, Any]) -> None:
    if token_name(match).startswith("user.") and "user.id" not in lookups:
        raise NeedsUser()


def _unquoted(found: Any) -> Any:
    """An admin's lookup written for DF's spliced filter text (`'west'`) means the string
    west; a caller's own values (`{user.email}`) are always taken as they are."""
    if isinstance(found, str) and len(found) >= 2 and found[0] == found[-1] == "'":
        return found[1:-1].replace("''", "'")
    return found


def substitute(node: Node, lookups: Mapping[str, Any]) -> Node:
    """The AST with `{lookup}` values replaced; NeedsUser when a user lookup has no user."""
    if isinstance(node, Condition):
        if node.value is None:
            return node
        if isinstance(node.value, tuple):
            return replace(node, value=tuple(_substitute_value(v, lookups) for v in node.value))
        return replace(node, value=_substitute_value(node.value, lookups))
    if isinstance(node, Not):
        return Not(substitute(node.item, lookups))
    items = tuple(substitute(i, lookups) for i in node.items)
    return And(items) if isinstance(node, And) else Or(items)


def combine_groups(groups: tuple[RowFilterGroup, ...], lookups: Mapping[str, Any]) -> Node:
    """The row filter for a call: each granting rule's group, ORed, lookups substituted."""
    nodes = tuple(substitute(g.node, lookups) if g.has_lookups else g.node for g in groups)
    return nodes[0] if len(nodes) == 1 else Or(nodes)


def misconfigured(detail: str) -> InternalError:
    """A role filter that does not fit the table it is applied to: the detail is logged for
    the admin, the caller gets DF's generic message."""
    log.warning("role row filter misconfigured: %s", detail)
    return InternalError(INVALID_CONFIG)


def bind_for_table(node: Node | None, table: Table) -> BoundNode | None:
    """A role's row filter resolved against the table it guards; a filter that names a
    column the table lacks is the admin's misconfiguration (500), never a wider grant."""
    if node is None:
        return None
    try:
        return bind_filter(node, table)
    except GatewayError as exc:
        raise misconfigured(f"table '{table.name}': {exc.message}") from None
