"""Stage 5 (throttle): count a call against its rate limits; 429 when any is exceeded.

Runs after authentication and authorization (refused calls never count) and only for
non-admins (admins are exempt, spec §10). Each matching active limit counts one hit.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.errors import TooManyRequests
from limits import counters
from limits.rules import Caller, LimitRule, active, applicable

EXCEEDED = "API limit(s) exceeded. "


class LimitExceeded(TooManyRequests):
    """429 with the limits exceeded in `context` (spec §10); `limit_id` for the audit trail."""

    def __init__(self, limit_id: int, *, context: Any, headers: dict[str, str]) -> None:
        super().__init__(EXCEEDED, context=context, headers=headers, code=429)
        self.limit_id = limit_id


def _record(rule: LimitRule) -> dict[str, Any]:
    """The limit as system/limit answers it (period by name)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "description": rule.description,
        "type": rule.type,
        "key_text": rule.key_text,
        "rate": rule.rate,
        "period": rule.period_name,
        "is_active": True,
        "user_id": rule.user_id,
        "role_id": rule.role_id,
        "service_id": rule.service_id,
        "endpoint": rule.endpoint or None,
        "verb": rule.verb or None,
    }


def _headers(rule: LimitRule, count: int, now: float) -> dict[str, str]:
    reset = counters.Window.of(rule, now).reset
    return {
        "X-RateLimit-Limit": str(rule.rate),
        "X-RateLimit-Remaining": str(max(0, rule.rate - count)),
        "X-RateLimit-Reset": str(reset),
    }


def enforce(caller: Caller) -> dict[str, str]:
    """Count the call; the X-RateLimit-* headers of the tightest limit (none when no limit
    applies), or TooManyRequests with Retry-After naming the limits exceeded."""
    rules = active()
    if not rules:
        return {}
    counted = applicable(rules, caller)
    if not counted:
        return {}
    now = time.time()
    counts = counters.hit(counted, now)
    exceeded = [
        (rule, count) for (rule, _), count in zip(counted, counts, strict=True) if count > rule.rate
    ]
    if exceeded:
        rule, count = exceeded[-1]  # DF reports the headers of the last limit it evaluated
        headers = _headers(rule, count, now)
        headers["Retry-After"] = str(max(1, int(counters.Window.of(rule, now).reset - now)))
        raise LimitExceeded(
            rule.id,
            context=[{"id": r.id, "name": r.name, "object": _record(r)} for r, _ in exceeded],
            headers=headers,
        )
    tightest, count = min(
        zip((rule for rule, _ in counted), counts, strict=True), key=lambda rc: rc[0].rate - rc[1]
    )
    return _headers(tightest, count, now)
