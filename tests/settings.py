"""Test settings: the real settings with a fast password hasher (hashing is not under test), and
the audit store in memory: pytest-django turns it into a test database for the tests that
declare it (`databases=["default", "audit"]`), and no test event ever reaches a real audit file
or database, whatever GATEWAY_AUDIT_DATABASE_URL says. Tests of a real store start servers
(tests/faults/test_audit_store.py)."""

from gateway.settings import *  # noqa: F403
from gateway.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

GATEWAY_AUDIT_DATABASE_URL = "sqlite://:memory:"
DATABASES["audit"] = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": ":memory:",
    "CONN_MAX_AGE": DATABASES["default"].get("CONN_MAX_AGE", 0),
}
