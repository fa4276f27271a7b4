"""EncryptedTextField: service secrets encrypted at rest with Fernet (MultiFernet for rotation).

Keys come from GATEWAY_ENCRYPTION_KEY (comma-separated, newest first). Without it a key is
derived from SECRET_KEY and the system check gateway.W002 warns. Plaintext never reaches the DB.
A value the configured keys cannot decrypt loads as an UnreadableSecret instead of failing the
whole query: one such row must not take every service down (issue #10).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

_PREFIX = "fernet:"


@functools.cache
def _fernet_for(keys: str, secret_key: str) -> MultiFernet:
    if keys.strip():
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    derived = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
    return MultiFernet([Fernet(derived)])


def fernet() -> MultiFernet:
    """The MultiFernet for the current settings."""
    return _fernet_for(settings.GATEWAY_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    return _PREFIX + fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(_PREFIX):
        raise ValueError("stored secret is not in the encrypted format")
    try:
        return fernet().decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken as exc:  # wrong or rotated-away key
        raise ValueError(
            "cannot decrypt a stored secret: GATEWAY_ENCRYPTION_KEY does not hold the key it "
            "was written with"
        ) from exc


def rotate(stored: str) -> str:
    """Re-encrypt a stored value with the newest key (for key rotation)."""
    return _PREFIX + fernet().rotate(stored[len(_PREFIX) :].encode()).decode()


class UnreadableSecret(str):
    """A stored secret the configured keys cannot decrypt. It holds the stored text, so saving
    the row without a new value keeps it as it was; it is never usable as the secret."""


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]  # stubs: TextField[set, get]
    """A text field whose value is Fernet-encrypted in the database and plain in Python."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return None if value is None else ""
        try:
            return decrypt(value)
        except ValueError:
            return UnreadableSecret(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnreadableSecret):
            return str(value)  # unchanged: still the ciphertext it was read as
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
