"""API keys: generated with a CSPRNG, shown once, stored as a keyed hash (HMAC-SHA256).

Keys are 64 hex characters, like DreamFactory's. The first 8 are kept in clear as a prefix an
admin can recognise and the lookup can index; the digest is HMAC(secret, key), where the
secrets come from GATEWAY_API_KEY_SECRET (comma-separated, newest first, for rotation) or are
derived from SECRET_KEY. Comparison is constant-time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings

KEY_BYTES = 32  # 64 hex characters
PREFIX_LENGTH = 8


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: `plaintext` is shown once and never stored."""

    plaintext: str
    prefix: str
    digest: str


@functools.cache
def _secrets_for(configured: str, secret_key: str) -> tuple[bytes, ...]:
    listed = tuple(s.strip().encode() for s in configured.split(",") if s.strip())
    if listed:
        return listed
    return (hashlib.sha256(b"pg-gateway api keys\x00" + secret_key.encode()).digest(),)


def hmac_secrets() -> tuple[bytes, ...]:
    """The HMAC secrets, newest first."""
    return _secrets_for(settings.GATEWAY_API_KEY_SECRET, settings.SECRET_KEY)


def digest(key: str, secret: bytes | None = None) -> str:
    """The stored form of a key (under the newest secret unless one is given)."""
    return hmac.digest(secret or hmac_secrets()[0], key.encode(), "sha256").hex()


def generate() -> NewKey:
    plaintext = secrets.token_hex(KEY_BYTES)
    return NewKey(plaintext, plaintext[:PREFIX_LENGTH], digest(plaintext))


def matches(key: str, stored_digest: str) -> bool:
    """Whether `key` hashes to `stored_digest` under any configured secret (constant-time)."""
    found = False
    for secret in hmac_secrets():
        found |= hmac.compare_digest(digest(key, secret), stored_digest)
    return found
