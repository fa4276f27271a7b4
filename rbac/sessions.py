"""Session tokens: issue, verify, refresh and revoke DreamFactory-style JWTs (spec §7.4).

HS256 is pinned on both sides (no `none`, no algorithm confusion). Claims are the spec's: iss,
iat, exp, nbf, jti, sub (md5 of the email), user_id, forever. Verification checks the
signature, the times, that `sub` still matches the active user's email, and that the token was
not revoked (rbac/revocation.py). Verified tokens and user snapshots are cached in process and
dropped on any metadata change.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import jwt
from django.conf import settings

from core.errors import Forbidden, NotAuthenticated
from core.metadata import stamp
from rbac import revocation
from rbac.models import User

ALGORITHM = "HS256"
EXPIRED_MESSAGE = (
    "Token has expired: Session expired. Please refresh your token (if still within refresh "
    "window) or re-login."
)
BLACKLISTED_MESSAGE = "The token has been blacklisted: Session terminated. Please re-login."
_REQUIRED = ["iat", "exp", "sub", "user_id", "forever"]
_USER_FIELDS = ("id", "email", "is_active", "is_staff", "name", "first_name", "last_name")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    id: int
    email: str
    is_active: bool
    is_admin: bool
    name: str = ""
    first_name: str = ""
    last_name: str = ""

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return self.name or full or self.email.split("@")[0]


@dataclass(frozen=True, slots=True)
class Session:
    """A verified session token."""

    user: UserSnapshot
    jti: str
    exp: int
    token: str = ""


def email_digest(email: str) -> str:
    return hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()


def forever_allowed(requested: bool) -> bool:
    """Whether a login asking for `remember_me` gets a long-lived ("forever") token: only
    when JWT_ALLOW_FOREVER_SESSIONS is on (DF_ALLOW_FOREVER_SESSIONS, spec §7.3)."""
    return bool(requested) and bool(getattr(settings, "JWT_ALLOW_FOREVER_SESSIONS", False))


def issue_token(user: Any, issuer: str, *, forever: bool = False) -> tuple[str, datetime]:
    """A new session token for `user` and its expiry time; a `forever` token lives for the
    whole refresh window (JWT_REFRESH_TTL_MINUTES) instead of JWT_TTL_MINUTES."""
    now = datetime.now(UTC).replace(microsecond=0)
    minutes = settings.JWT_REFRESH_TTL_MINUTES if forever else settings.JWT_TTL_MINUTES
    exp = now + timedelta(minutes=minutes)
    claims = {
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": secrets.token_hex(16),
        "sub": email_digest(user.email),
        "user_id": user.pk,
        "forever": bool(forever),
    }
    return jwt.encode(claims, settings.JWT_SECRET, algorithm=ALGORITHM), exp


def user_snapshot(**lookup: Any) -> UserSnapshot | None:
    """The first user that matches `lookup` (None without one); an admin is active staff."""
    row = User.objects.filter(**lookup).values(*_USER_FIELDS).first()
    if row is None:
        return None
    return UserSnapshot(
        row["id"],
        row["email"],
        row["is_active"],
        row["is_staff"] and row["is_active"],
        row["name"],
        row["first_name"],
        row["last_name"],
    )


class BoundedCache:
    """A process cache whose stores (dicts) each start afresh once they hold MAX entries."""

    MAX = 10_000

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def put(self, store: dict[K, V], key: K, value: V) -> V:
        """Keep `value` under `key` in `store` (emptied first when full); `value`."""
        with self.lock:
            if len(store) >= self.MAX:
                store.clear()
            store[key] = value
        return value


class _Cache(BoundedCache):
    """Verified tokens and user snapshots for this process."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: dict[str, Session] = {}
        self.users: dict[int, UserSnapshot | None] = {}

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
    return _cache.put(_cache.users, user_id, user_snapshot(pk=user_id))


def _decode(token: str, *, verify_exp: bool = True) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.JWT_SECRET,
            algorithms=[ALGORITHM],
            options={"require": _REQUIRED, "verify_exp": verify_exp},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated(EXPIRED_MESSAGE) from None
    except jwt.InvalidTokenError as exc:
        raise NotAuthenticated(f"Invalid token: {exc}") from None
    return claims


def _session_from(claims: dict[str, Any], token: str) -> Session:
    user_id = claims.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise NotAuthenticated("Invalid token: User verification failed.")
    user = _user(user_id)
    if user is None or not user.is_active or email_digest(user.email) != claims.get("sub"):
        raise NotAuthenticated("Invalid token: User verification failed.")
    return Session(user=user, jti=str(claims.get("jti", "")), exp=int(claims["exp"]), token=token)


def _poll() -> None:
    """Pick up revocations made by other processes (or before a restart) before judging."""
    stamp.poll()


def verify_token(token: str) -> Session:
    """The session for a token; 401 when expired or invalid, 403 when revoked (spec §7.4)."""
    _poll()
    session = _cache.tokens.get(token)
    if session is None:
        session = _cache.put(_cache.tokens, token, _session_from(_decode(token), token))
    if session.exp <= time.time():
        raise NotAuthenticated(EXPIRED_MESSAGE)
    if revocation.is_revoked(session.jti):
        raise Forbidden(BLACKLISTED_MESSAGE)
    return session


def _revocable_until(claims: dict[str, Any]) -> float:
    """How long a revoked token must stay on the list: until it can no longer be refreshed."""
    refresh_end = int(claims["iat"]) + settings.JWT_REFRESH_TTL_MINUTES * 60
    return float(max(int(claims["exp"]), refresh_end))


def revoke_token(token: str) -> None:
    """Log out: the token is refused from now on, by every process (spec §7.3)."""
    _poll()
    claims = _decode(token, verify_exp=False)
    _session_from(claims, token)
    jti = str(claims.get("jti", ""))
    if not jti:
        raise NotAuthenticated("Invalid token: it carries no jti and cannot be revoked.")
    if revocation.is_revoked(jti):
        raise Forbidden(BLACKLISTED_MESSAGE)
    revocation.revoke(jti, _revocable_until(claims))


def end_session(session: Session) -> None:
    """Revoke a verified session's token (its user changed their email or password); kept on
    the list for as long as the token could possibly still be refreshed."""
    revocation.revoke(session.jti, float(session.exp + settings.JWT_REFRESH_TTL_MINUTES * 60))


def refresh_token(
    token: str, issuer: str, *, admins_only: bool = False
) -> tuple[str, datetime, Any]:
    """PUT .../session: a new token for the same user, the old one revoked.

    An expired token is accepted while it is inside the refresh window (iat + refresh TTL).
    A "forever" token (remember_me) is re-issued as a new forever token while forever sessions
    are allowed; once they are switched off it is refreshed as an ordinary one.
    """
    _poll()
    claims = _decode(token, verify_exp=False)
    if time.time() > int(claims["iat"]) + settings.JWT_REFRESH_TTL_MINUTES * 60:
        raise NotAuthenticated("Token refresh failed. The refresh window has passed; log in again.")
    session = _session_from(claims, token)
    if revocation.is_revoked(session.jti):
        raise Forbidden(BLACKLISTED_MESSAGE)
    if admins_only and not session.user.is_admin:
        raise NotAuthenticated("You are not authorized to perform this action.")
    user = User.objects.get(pk=session.user.id)
    forever = forever_allowed(claims.get("forever") is True)
    new_token, expiry = issue_token(user, issuer, forever=forever)
    revocation.revoke(session.jti, _revocable_until(claims))
    return new_token, expiry, user
