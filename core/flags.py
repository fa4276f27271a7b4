"""DreamFactory's booleans (spec §1.6): one definition of what counts as true."""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"true", "1", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", "f", "n"})


def as_bool(value: Any) -> bool:
    """DF's boolval(): true/1/yes/on/t/y (any case) and non-zero numbers are true."""
    if isinstance(value, str):
        return value.strip().lower() in TRUE_WORDS
    return bool(value)


def is_true(value: Any) -> bool:
    """A query or body option that is set and true (None and "" are false)."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in TRUE_WORDS
