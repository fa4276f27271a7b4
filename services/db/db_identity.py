"""Database-side security (issue #3): who a request runs as inside PostgreSQL.

On a service with `use_db_roles`, the pipeline sets a DbIdentity for each non-admin request;
every pooled connection the request takes then runs in one transaction that starts with
PostgREST's settings: `role` (as SET LOCAL ROLE) and `request.jwt.claims` (plus
`request.method` and `request.path`), all transaction-local, so row-level security policies and
grants apply per user and nothing outlives the request. Catalog reads skip it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg

from core.errors import InternalError

# role and claims are bound values: set_config() takes the role's name as data, never as SQL
APPLY_IDENTITY = (
    "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
    " set_config('request.method', %s, true), set_config('request.path', %s, true)"
)


@dataclass(frozen=True, slots=True)
class DbIdentity:
    role: str  # the PostgreSQL role mapped from the gateway role
    claims: str  # JSON text
    method: str
    path: str


_current: ContextVar[DbIdentity | None] = ContextVar("db_identity", default=None)


def current() -> DbIdentity | None:
    return _current.get()


@contextmanager
def acting_as(identity: DbIdentity | None) -> Iterator[None]:
    """Run the block's connections as `identity` (None: as the service's own user)."""
    token = _current.set(identity)
    try:
        yield
    finally:
        _current.reset(token)


def apply(conn: psycopg.Connection[Any], identity: DbIdentity) -> None:
    """Set the identity on a connection that is inside a transaction."""
    try:
        conn.execute(
            APPLY_IDENTITY, (identity.role, identity.claims, identity.method, identity.path)
        )
    except psycopg.Error as exc:
        # a missing role, or the service's user may not SET ROLE to it: an admin must fix it
        raise InternalError(
            f"The request could not run as database role '{identity.role}': "
            f"{exc.diag.message_primary or type(exc).__name__}. An admin must create the role "
            "and GRANT it to the service's database user."
        ) from None
