"""The `/rest/shop/` server of tests/postgrest (the same provisioning, reused as is)."""

from tests.postgrest.conftest import rest

__all__ = ["rest"]
