"""Stage 5 (throttle): count a call against its rate limits; 429 when any is exceeded.

Runs after authentication and authorization (refused calls never count) and only for
non-admins (admins are exempt, spec §10). Each matching active limit counts one hit.
"""

from __future__ import annotations

import time
from typing import Any

from core.errors import TooManyRequests
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


def _headers(rule: LimitRule, count: int, window: counters.Window) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(rule.rate),
        "X-RateLimit-Remaining": str(max(0, rule.rate - count)),
        "X-RateLimit-Reset": str(window.reset),
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
    windows = [counters.Window.of(rule, now) for rule, _ in counted]
    counts = counters.hit(counted, now, windows)
    tightest = 0
    exceeded = []
    for index, ((rule, _), count) in enumerate(zip(counted, counts, strict=True)):
        if count > rule.rate:
            exceeded.append(index)
        elif rule.rate - count < counted[tightest][0].rate - counts[tightest]:
            tightest = index
    if exceeded:
        last = exceeded[-1]  # DF reports the headers of the last limit it evaluated
        rule, window = counted[last][0], windows[last]
        headers = _headers(rule, counts[last], window)
        headers["Retry-After"] = str(max(1, int(window.reset - now)))
        raise LimitExceeded(
            rule.id,
            context=[
                {"id": r.id, "name": r.name, "object": _record(r)}
                for r in (counted[i][0] for i in exceeded)
            ],
            headers=headers,
        )
    return _headers(counted[tightest][0], counts[tightest], windows[tightest])
