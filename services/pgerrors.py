"""Classify PostgreSQL and driver errors into GatewayErrors (an explicit SQLSTATE table).

Messages name the column or constraint and say what to do; they never carry SQL text,
connection strings or passwords.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pge

from gateway.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GatewayError,
    GatewayTimeout,
    InternalError,
    ServiceUnavailable,
)

# SQLSTATE class or code -> error class. The most specific entry wins (code before class).
_STATUS_BY_SQLSTATE: dict[str, type[GatewayError]] = {
    "23505": BadRequest,  # unique_violation (DF reports duplicates as 400 batch errors)
    "23503": BadRequest,  # foreign_key_violation
    "23502": BadRequest,  # not_null_violation
    "23514": BadRequest,  # check_violation
    "23P01": BadRequest,  # exclusion_violation
    "22": BadRequest,  # data exception: bad input syntax, out of range, ...
    "42501": Forbidden,  # insufficient_privilege
    "42": BadRequest,  # syntax error or access rule violation (undefined column, ...)
    "57014": GatewayTimeout,  # query_canceled (statement_timeout)
    "55P03": Conflict,  # lock_not_available
    "40001": Conflict,  # serialization_failure
    "40P01": Conflict,  # deadlock_detected
    "53300": ServiceUnavailable,  # too_many_connections
    "57P01": ServiceUnavailable,  # admin_shutdown
    "57P03": ServiceUnavailable,  # cannot_connect_now
    "08": ServiceUnavailable,  # connection exception
    "25006": Forbidden,  # read_only_sql_transaction
}


def _describe(exc: psycopg.Error) -> str:
    """A user-facing message from the server's diagnostics, without the SQL statement."""
    diag = exc.diag
    primary = diag.message_primary or "The database reported an error."
    state = exc.sqlstate or ""
    if state == "23505":
        return f"Duplicate value violates unique constraint '{diag.constraint_name}'. {diag.message_detail or ''}".strip()  # noqa: E501
    if state == "23503":
        return f"Foreign key constraint '{diag.constraint_name}' is violated. {diag.message_detail or ''}".strip()  # noqa: E501
    if state == "23502":
        return f"Field '{diag.column_name}' can not be NULL."
    if state == "23514":
        return f"Check constraint '{diag.constraint_name}' is violated by the record."
    if state == "57014":
        return "The statement was cancelled because it ran longer than the service's statement_timeout."  # noqa: E501
    if state == "42501":
        return f"The database does not allow this to the role the request runs as: {primary}"
    return primary[0].upper() + primary[1:] + ("" if primary.endswith(".") else ".")


def classify(exc: psycopg.Error) -> GatewayError:
    """Turn a driver error into the GatewayError the client should see."""
    state = exc.sqlstate or ""
    if isinstance(exc, pge.QueryCanceled) or state == "57014":
        return GatewayTimeout(_describe(exc), code=state or 504)
    if isinstance(exc, psycopg.DataError) and not state:
        # raised by the driver before sending, e.g. a NUL character in a text value
        return BadRequest(f"Invalid value: {exc}.")
    if isinstance(exc, psycopg.OperationalError) and not state:
        return ServiceUnavailable(
            "The service's database connection was lost; retry the request.",
            context={"reason": "connection_lost"},
        )
    cls = _STATUS_BY_SQLSTATE.get(state) or _STATUS_BY_SQLSTATE.get(state[:2])
    if cls is None:
        return InternalError(
            "The database reported an unexpected error.", code=state or 500, context=None
        )
    err = cls(_describe(exc), code=state or cls.status)
    return err


def classify_connect_error(exc: BaseException) -> tuple[str, str]:
    """(kind, actionable message) for a failure to connect to a service database."""
    text = str(exc)
    lowered = text.lower()
    checks = [
        (
            "password authentication failed",
            "authentication_failed",
            "Authentication failed: check the service's username and password.",
        ),
        (
            "no password supplied",
            "authentication_failed",
            "Authentication failed: the server wants a password and none is configured.",
        ),
        (
            "no pg_hba.conf entry",
            "not_allowed",
            "The server refuses connections from this host for that user/database "
            "(pg_hba.conf); ask the database admin to allow it, or try sslmode=require.",
        ),
        (
            "server does not support ssl",
            "ssl_not_supported",
            "The server does not support SSL: set sslmode to 'prefer' or 'disable'.",
        ),
        (
            "ssl",
            "ssl_required",
            "SSL negotiation failed: check sslmode and sslrootcert against the server's "
            "SSL settings.",
        ),
        (
            "timeout expired",
            "timeout",
            "Timed out connecting: check the host and port, and that a firewall lets "
            "the gateway through.",
        ),
        (
            "connection refused",
            "connection_refused",
            "Connection refused: nothing listens at that host and port; check them and "
            "that the server is running.",
        ),
        (
            "no such file or directory",
            "connection_refused",
            "Connection refused: no server listens on that Unix socket (host directory and "
            "port); check them and that the server is running.",
        ),
        (
            "failed to resolve host",
            "unknown_host",
            "Unknown host: the host name does not resolve.",
        ),
        (
            "could not translate host name",
            "unknown_host",
            "Unknown host: the host name does not resolve.",
        ),
        (
            "too many",
            "too_many_connections",
            "The server has no free connection slots; lower pool_max or raise max_connections.",
        ),
    ]
    if "pg_hba.conf" in lowered and "ssl" in lowered and "no encryption" in lowered:
        return (
            "ssl_required",
            "The server requires SSL for this user/database: set sslmode to 'require'.",
        )
    if "does not exist" in lowered:
        if 'fatal:  role "' in lowered or 'role "' in lowered:
            return "role_not_found", "The database user does not exist: check the username."
        return "database_not_found", "The database does not exist: check the database name."
    for needle, kind, message in checks:
        if needle in lowered:
            return kind, message
    return "unreachable", "Could not connect to the database; check host, port and credentials."
