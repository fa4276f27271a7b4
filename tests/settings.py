"""Test settings: the real settings with a fast password hasher (hashing is not under test)."""

from gateway.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
