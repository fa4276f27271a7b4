"""How secrets travel in a configuration file: left out, or Fernet-encrypted with this
gateway's key (in clear only in memory, to compare records)."""

from __future__ import annotations

from typing import Any

from django.db import models

from core.errors import BadRequest
from services.fields import EncryptedTextField, UnreadableSecret, decrypt, encrypt

SECRET_MODES = ("omit", "encrypted")
PLAIN = "plain"  # secrets in clear: only for comparing records in memory, never written out


def secret_mode(value: Any) -> str:
    """`omit` or `encrypted`; anything else is a 400."""
    if value not in SECRET_MODES:
        raise BadRequest(f"secrets must be one of {', '.join(SECRET_MODES)} (got '{value}').")
    return str(value)


def secret_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The model's fields stored encrypted: the secrets a file leaves out or encrypts."""
    return tuple(f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField))


def put_secret(record: dict[str, Any], key: str, value: Any, mode: str) -> None:
    """Add a secret to `record` as `mode` says: never when omitted or empty; a stored value
    this gateway cannot decrypt is left out too (it could not be re-encrypted)."""
    if not value or mode == "omit":
        return
    if mode == PLAIN:
        record[key] = str(value)
    elif not isinstance(value, UnreadableSecret):
        record[key] = encrypt(str(value))


def secret_in(value: Any, what: str) -> str:
    """A secret from the document: Fernet-encrypted by a gateway with our key, or plain."""
    if not isinstance(value, str):
        raise BadRequest(f"{what} must be a string.")
    if not value.startswith("fernet:"):
        return value
    try:
        return decrypt(value)
    except ValueError:
        raise BadRequest(
            f"{what} cannot be decrypted: it was exported by a gateway with another "
            "GATEWAY_ENCRYPTION_KEY. Import with that key, or remove the value and set it here."
        ) from None
