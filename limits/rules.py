"""Which rate limits a call counts against (spec §10), from an in-process snapshot.

Pure matching over frozen LimitRule values; the snapshot is loaded once per metadata version,
so a call with no limits configured costs one empty-list check.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from limits.models import PERIOD_SECONDS, PERIODS, Limit, key_text


@dataclass(frozen=True, slots=True)
class LimitRule:
    id: int
    name: str
    type: str
    rate: int
    period: int
    user_id: int | None
    role_id: int | None
    service_id: int | None
    endpoint: str  # lower-case, no '/' at either end
    verb: str  # upper-case, "" for every verb
    description: str = ""
    # worked out once from the fields above (matching runs on every call of a limited service)
    seconds: int = field(init=False, compare=False, repr=False)
    per_user: bool = field(init=False, compare=False, repr=False)
    segments: tuple[str, ...] = field(init=False, compare=False, repr=False)  # type's parts

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", PERIOD_SECONDS[self.period])
        object.__setattr__(self, "per_user", "each_user" in self.type)
        object.__setattr__(self, "segments", tuple(self.type.split(".")[1:]))

    @property
    def period_name(self) -> str:
        return PERIODS[self.period]

    @property
    def key_text(self) -> str:
        return key_text(self.type, self.user_id, self.role_id, self.service_id, self.endpoint) + (
            f".{self.period_name}"
        )

    @property
    def scope(self) -> tuple[str, int | None, str]:
        """What a specific-user limit shares with the each-user limit it overrides."""
        return (self.type.replace("each_user", "user"), self.service_id, self.endpoint)


@dataclass(frozen=True, slots=True)
class Caller:
    """A call as limits see it (admins never get here: they are exempt)."""

    user_id: int | None
    role_id: int | None
    service_id: int | None
    resource: str  # lower-case path below the service, e.g. _table/contacts/5
    verb: str


def rule_from(row: Mapping[str, Any]) -> LimitRule:
    """A rule from a Limit's values (a `.values()` row or a model instance's vars())."""
    return LimitRule(
        id=row["id"],
        name=row["name"],
        type=row["type"],
        rate=row["rate"],
        period=row["period"],
        user_id=row["user_id"],
        role_id=row["role_id"],
        service_id=row["service_id"],
        endpoint=normalize_endpoint(row["endpoint"]),
        verb=row["verb"].upper(),
        description=row["description"],
    )


def normalize_endpoint(endpoint: str) -> str:
    return endpoint.strip().strip("/").lower()


def _endpoint_matches(pattern: str, resource: str) -> bool:
    if pattern.endswith("*"):
        return resource.startswith(pattern[:-1].rstrip("/"))
    return resource == pattern


def matches(rule: LimitRule, caller: Caller) -> bool:
    if rule.verb and rule.verb != caller.verb:
        return False
    for segment in rule.segments:
        if segment == "user" and (caller.user_id is None or caller.user_id != rule.user_id):
            return False
        if segment == "each_user" and caller.user_id is None:
            return False  # each-user limits apply to authenticated callers only
        if segment == "role" and caller.role_id != rule.role_id:
            return False
        if segment == "service" and caller.service_id != rule.service_id:
            return False
        if segment == "endpoint" and not _endpoint_matches(rule.endpoint, caller.resource):
            return False
    return True


def applicable(rules: tuple[LimitRule, ...], caller: Caller) -> list[tuple[LimitRule, str]]:
    """The limits this call counts against, with the counter subject of each: the user's id
    for each-user limits, "all" otherwise. A specific-user limit replaces the each-user limit
    of the same scope for that user."""
    found = [rule for rule in rules if matches(rule, caller)]
    specific = {rule.scope for rule in found if not rule.per_user and ".user" in rule.type}
    out = []
    for rule in found:
        if rule.per_user:
            if rule.scope in specific:
                continue
            out.append((rule, f"u{caller.user_id}"))
        else:
            out.append((rule, "all"))
    return out


class _Snapshot:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: tuple[LimitRule, ...] | None = None

    def load(self) -> tuple[LimitRule, ...]:
        loaded = self.rules
        if loaded is not None:
            return loaded
        with self.lock:
            if self.rules is None:
                self.rules = tuple(
                    rule_from(row)
                    for row in Limit.objects.filter(is_active=True)
                    .order_by("id")
                    .values(*(n for n, f in LimitRule.__dataclass_fields__.items() if f.init))
                )
            return self.rules

    def clear(self) -> None:
        with self.lock:
            self.rules = None


snapshot = _Snapshot()


def clear_cache() -> None:
    snapshot.clear()


def active() -> tuple[LimitRule, ...]:
    return snapshot.load()
