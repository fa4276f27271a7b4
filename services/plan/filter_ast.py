"""The filter AST: what `plan/filters.py` produces and `plan/bind.py` resolves.

Plain frozen data; names are still the user's text here (bind checks them against the schema cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

# The operators a Condition may carry, lower-case, after word forms are normalised
# (EQ -> "=", NE/<> -> "!=", GT -> ">", GTE -> ">=", LT -> "<", LTE -> "<=").
COMPARISON_OPS = frozenset({"=", "!=", ">", ">=", "<", "<="})
PATTERN_OPS = frozenset(
    {
        "like",
        "not like",
        "contains",
        "not contains",
        "starts with",
        "not starts with",
        "ends with",
        "not ends with",
    }
)
LIST_OPS = frozenset({"in", "not in", "all"})
NULL_OPS = frozenset({"is null", "is not null"})
RANGE_OPS = frozenset({"between", "not between"})
ALL_OPS = COMPARISON_OPS | PATTERN_OPS | LIST_OPS | NULL_OPS | RANGE_OPS
# Operators only the PostgREST dialect writes (services/plan/pgrst_filters.py); DF's filter
# grammar does not read them. `ilike` takes a LIKE pattern as given; the truth tests no value.
CASE_PATTERN_OPS = frozenset({"ilike", "not ilike"})
TRUTH_OPS = frozenset({"is true", "is not true", "is false", "is not false"})
# More of the dialect's own (their PostgREST names): regular expressions, IS DISTINCT FROM,
# full-text search (value: (language or None, query)), containment and overlap (arrays,
# ranges, jsonb) and the range positions. Bind checks the column's type for them.
REGEX_OPS = frozenset({"match", "imatch"})
FTS_OPS = frozenset({"fts", "plfts", "phfts", "wfts"})
CONTAIN_OPS = frozenset({"cs", "cd", "ov"})
RANGE_SIDE_OPS = frozenset({"sl", "sr", "nxr", "nxl", "adj"})
PGRST_OPS = REGEX_OPS | FTS_OPS | CONTAIN_OPS | RANGE_SIDE_OPS | {"isdistinct"}


@dataclass(frozen=True, slots=True)
class Value:
    """One operand value.

    `raw` is the token's text with quotes removed and escapes resolved (a str), or, for a
    `:name` placeholder, the JSON value taken from `params` (any JSON type). An unquoted
    `null` token gives raw=None.
    """

    raw: Any
    quoted: bool = False
    from_param: bool = False


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A JSON path into a json/jsonb column (PostgREST's `col->a->>b`): the keys in order (an
    all-digit key indexes an array), and whether the last step reads text (`->>`)."""

    keys: tuple[str, ...]
    as_text: bool = False


@dataclass(frozen=True, slots=True)
class Condition:
    """`field OP value`.

    value is a Value, a tuple of Values (in / not in / all / between), or None (is [not] null).
    """

    field: str
    op: str
    value: Value | tuple[Value, ...] | None
    path: JsonPath | None = None  # a condition on a value inside a json/jsonb column


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node: TypeAlias = Condition | And | Or | Not
