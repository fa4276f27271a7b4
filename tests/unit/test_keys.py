"""Unit tests for API key generation and hashing (`apikeys.keys`): no database.

Keys are 64 hex characters; only an 8-character prefix and an HMAC digest are stored. The HMAC
secrets come from GATEWAY_API_KEY_SECRET (comma-separated, newest first) or from SECRET_KEY.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import override_settings

from apikeys import keys

HEX64 = re.compile(r"^[0-9a-f]{64}$")
KEY = "0123456789abcdef" * 4


def flip(key: str, index: int) -> str:
    """`key` with one hex character changed."""
    return key[:index] + ("1" if key[index] == "0" else "0") + key[index + 1 :]


@pytest.fixture(autouse=True)
def _one_secret() -> Iterator[None]:
    """A known configured secret unless a test overrides it (the environment may set one)."""
    with override_settings(GATEWAY_API_KEY_SECRET="test-secret"):
        yield


# --- generation ----------------------------------------------------------------------------


def test_generated_key_shape() -> None:
    new = keys.generate()
    assert HEX64.match(new.plaintext)
    assert new.prefix == new.plaintext[:8]
    assert len(new.prefix) == 8
    assert HEX64.match(new.digest)
    assert new.digest != new.plaintext
    assert new.plaintext not in new.digest


def test_generated_keys_are_distinct() -> None:
    generated = [keys.generate() for _ in range(200)]
    assert len({k.plaintext for k in generated}) == 200
    assert len({k.digest for k in generated}) == 200


def test_generated_key_matches_its_digest() -> None:
    new = keys.generate()
    assert new.digest == keys.digest(new.plaintext)
    assert keys.matches(new.plaintext, new.digest)


# --- digest and matches --------------------------------------------------------------------


def test_digest_is_deterministic_and_not_the_key() -> None:
    assert keys.digest(KEY) == keys.digest(KEY)
    assert HEX64.match(keys.digest(KEY))
    assert keys.digest(KEY) != KEY
    assert keys.digest(KEY) != keys.digest(flip(KEY, 0))


@pytest.mark.parametrize("index", [0, 7, 8, 31, 63])
def test_one_character_change_does_not_match(index: int) -> None:
    stored = keys.digest(KEY)
    assert keys.matches(KEY, stored)
    assert not keys.matches(flip(KEY, index), stored)


@pytest.mark.parametrize("other", ["", KEY[:63], KEY + "0", KEY.upper(), f" {KEY}"])
def test_other_strings_do_not_match(other: str) -> None:
    assert not keys.matches(other, keys.digest(KEY))


def test_matches_is_false_for_a_digest_of_another_key() -> None:
    assert not keys.matches(KEY, keys.digest(flip(KEY, 5)))
    assert not keys.matches(KEY, "0" * 64)
    assert not keys.matches(KEY, "")


def test_explicit_secret_gives_a_different_digest() -> None:
    assert keys.digest(KEY, b"other") != keys.digest(KEY)
    assert keys.digest(KEY, b"test-secret") == keys.digest(KEY)


# --- rotation ------------------------------------------------------------------------------


def test_rotation_keeps_old_digests_working() -> None:
    with override_settings(GATEWAY_API_KEY_SECRET="old"):
        old_digest = keys.digest(KEY)
        assert keys.matches(KEY, old_digest)
    with override_settings(GATEWAY_API_KEY_SECRET="new,old"):
        assert keys.matches(KEY, old_digest)
        assert not keys.matches(flip(KEY, 3), old_digest)
        new_digest = keys.digest(KEY)
        assert new_digest != old_digest
        assert keys.matches(KEY, new_digest)
        assert keys.generate().digest != old_digest
    with override_settings(GATEWAY_API_KEY_SECRET="new"):
        assert keys.digest(KEY) == new_digest
        assert keys.matches(KEY, new_digest)
        assert not keys.matches(KEY, old_digest)


def test_new_keys_are_hashed_with_the_newest_secret() -> None:
    with override_settings(GATEWAY_API_KEY_SECRET="new , old ,"):
        new = keys.generate()
        assert keys.matches(new.plaintext, new.digest)
    with override_settings(GATEWAY_API_KEY_SECRET="new"):
        assert keys.matches(new.plaintext, new.digest)
    with override_settings(GATEWAY_API_KEY_SECRET="old"):
        assert not keys.matches(new.plaintext, new.digest)


def test_spaces_around_secrets_are_ignored() -> None:
    with override_settings(GATEWAY_API_KEY_SECRET="alpha,beta"):
        plain = keys.digest(KEY), keys.digest(KEY, b"beta")
    with override_settings(GATEWAY_API_KEY_SECRET=" alpha , beta "):
        assert keys.digest(KEY) == plain[0]
        assert keys.matches(KEY, plain[1])


# --- derived from SECRET_KEY ---------------------------------------------------------------


@pytest.mark.parametrize("configured", ["", " , "])
def test_without_a_secret_the_digest_follows_secret_key(configured: str) -> None:
    with override_settings(GATEWAY_API_KEY_SECRET=configured, SECRET_KEY="first-secret-key"):
        first = keys.digest(KEY)
        assert keys.matches(KEY, first)
        assert keys.digest(KEY) == first
    with override_settings(GATEWAY_API_KEY_SECRET=configured, SECRET_KEY="second-secret-key"):
        assert keys.digest(KEY) != first
        assert not keys.matches(KEY, first)
    with override_settings(GATEWAY_API_KEY_SECRET="test-secret"):
        assert keys.digest(KEY) != first


def test_derived_secret_is_not_secret_key_itself() -> None:
    with override_settings(GATEWAY_API_KEY_SECRET="", SECRET_KEY="k"):
        assert keys.digest(KEY) != keys.digest(KEY, b"k")


def test_configured_secret_ignores_secret_key() -> None:
    with override_settings(SECRET_KEY="first-secret-key"):
        first = keys.digest(KEY)
    with override_settings(SECRET_KEY="second-secret-key"):
        assert keys.digest(KEY) == first
        assert keys.matches(KEY, first)
