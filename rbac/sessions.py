"""Session tokens: issue and verify DreamFactory-style JWTs (HS256 pinned; spec §7.4).

Claims are the spec's: iss, iat, exp, nbf, jti, sub (md5 of the email), user_id, forever.
Verification checks the signature, the times and that `sub` still matches the user's email;
verified tokens and user snapshots are cached in process (cleared on any metadata change).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings

from gateway.errors import NotAuthenticated

ALGORITHM = "HS256"
EXPIRED_MESSAGE = (
    "Token has expired: Session expired. Please refresh your token (if still within refresh "
    "window) or re-login."
)
_REQUIRED = ["iat", "exp", "sub", "user_id", "forever"]


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: int
    email: str
    is_active: bool
    is_admin: bool


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session token."""

    user: UserSnapshot
    jti: str
    exp: int


def email_digest(email: str) -> str:
    return hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()


def issue_token(user: Any, issuer: str) -> tuple[str, datetime]:
    """A new session token for `user` and its expiry time."""
    now = datetime.now(UTC).replace(microsecond=0)
    exp = now + timedelta(minutes=settings.JWT_TTL_MINUTES)
    claims = {
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": secrets.token_hex(16),
        "sub": email_digest(user.email),
        "user_id": user.pk,
        "forever": False,
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM), exp


class _Cache:
    """Verified tokens and user snapshots for this process."""

    MAX = 10_000

    def __init__(self) -> None:
        self.tokens: dict[str, Session] = {}
        self.users: dict[int, UserSnapshot | None] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.tokens.clear()
            self.users.clear()


_cache = _Cache()


def clear_caches() -> None:
    _cache.clear()


def _user(user_id: int) -> UserSnapshot | None:
    if user_id in _cache.users:
        return _cache.users[user_id]
    from rbac.models import User

    row = User.objects.filter(pk=user_id).values("id", "email", "is_active", "is_staff").first()
    snap = (
        UserSnapshot(
            row["id"], row["email"], row["is_active"], row["is_staff"] and row["is_active"]
        )
        if row
        else None
    )
    with _cache.lock:
        if len(_cache.users) >= _cache.MAX:
            _cache.users.clear()
        _cache.users[user_id] = snap
    return snap


def verify_token(token: str) -> Session:
    """The session for a token, or 401 with the spec's message."""
    cached = _cache.tokens.get(token)
    if cached is not None:
        if cached.exp <= time.time():
            raise NotAuthenticated(EXPIRED_MESSAGE)
        return cached
    try:
        claims = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated(EXPIRED_MESSAGE) from None
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"Invalid token: {exc}") from None
    user_id = claims.get("user_id")
    if not isinstance(user_id, int):
        raise NotAuthenticated("Invalid token: User verification failed.")
    user = _user(user_id)
    if user is None or not user.is_active or email_digest(user.email) != claims.get("sub"):
        raise NotAuthenticated("Invalid token: User verification failed.")
    session = Session(user=user, jti=str(claims.get("jti", "")), exp=int(claims["exp"]))
    with _cache.lock:
        if len(_cache.tokens) >= _cache.MAX:
            _cache.tokens.clear()
        _cache.tokens[token] = session
    return session
