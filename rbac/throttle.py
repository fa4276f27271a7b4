"""Failed-login throttling per account and per client address (Django's cache: shared between
processes when CACHE_URL is Redis).

After GATEWAY_LOGIN_MAX_FAILURES failures for one email (or ..._PER_ADDRESS from one address)
within GATEWAY_LOGIN_LOCKOUT_SECONDS, logins answer 429 with Retry-After until the window
passes, even with the right password. A successful login clears the account's count.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from core.errors import TooManyRequests

_PREFIX = "login-fail:"


def _keys(email: str, address: str) -> tuple[str, str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"{_PREFIX}acct:{digest}", f"{_PREFIX}addr:{address}"


def _count(key: str) -> tuple[int, float]:
    """Failures counted under `key`, and when its window started."""
    found = cache.get_many([key, key + ":since"])
    return int(found.get(key) or 0), float(found.get(key + ":since") or time.time())


def check(email: str, address: str) -> None:
    """Refuse the attempt (429) while the account or the address is locked out."""
    window = settings.GATEWAY_LOGIN_LOCKOUT_SECONDS
    account, addr = _keys(email, address)
    for key, limit, what in (
        (account, settings.GATEWAY_LOGIN_MAX_FAILURES, "this account"),
        (addr, settings.GATEWAY_LOGIN_MAX_FAILURES_PER_ADDRESS, "your address"),
    ):
        failures, started = _count(key)
        if limit > 0 and failures >= limit:
            retry = max(1, int(started + window - time.time()))
            raise TooManyRequests(
                f"Too many failed logins for {what}. Try again in {retry} seconds.",
                headers={"Retry-After": str(retry)},
            )


def failed(email: str, address: str) -> None:
    """Count one failed attempt against the account and the address (atomic increments)."""
    window = settings.GATEWAY_LOGIN_LOCKOUT_SECONDS
    for key in _keys(email, address):
        cache.add(key + ":since", time.time(), timeout=window)
        if not cache.add(key, 1, timeout=window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, timeout=window)


def succeeded(email: str, address: str) -> None:
    account = _keys(email, address)[0]
    cache.delete_many([account, account + ":since"])
