"""Classify PostgreSQL and driver errors into GatewayErrors (an explicit SQLSTATE table).

Messages name the column or constraint and say what to do; they never carry SQL text,
connection strings or passwords.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import errors as pge

from core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    GatewayError,
    GatewayTimeout,
    InternalError,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)

# SQLSTATE class or code -> error class. The most specific entry wins (code before class);
# every class PostgreSQL defines has an entry, so no error falls through to a bare 500 with
# no message (PostgREST's Error.hs maps them the same way where DF has no opinion).
_STATUS_BY_SQLSTATE: dict[str, type[GatewayError]] = {
    "23505": BadRequest,  # unique_violation (DF reports duplicates as 400 batch errors)
    "23503": BadRequest,  # foreign_key_violation
    "23502": BadRequest,  # not_null_violation
    "23514": BadRequest,  # check_violation
    "23P01": BadRequest,  # exclusion_violation
    "23": BadRequest,  # any other integrity constraint
    "22": BadRequest,  # data exception: bad input syntax, out of range, ...
    "21": BadRequest,  # cardinality_violation (a subquery returned more than one row)
    "0A": BadRequest,  # feature_not_supported (by the database, for this request)
    "2F": BadRequest,  # SQL routine exception (e.g. a function ended without RETURN)
    "3F": BadRequest,  # invalid_schema_name
    "44": BadRequest,  # with_check_option_violation (a view's WITH CHECK OPTION)
    "54": BadRequest,  # program_limit_exceeded (too many columns, statement too complex)
    "55": BadRequest,  # object_not_in_prerequisite_state (e.g. a view that cannot be updated)
    "P0001": BadRequest,  # raise_exception: the routine's own message is for the caller
    "P0002": BadRequest,  # no_data_found (STRICT INTO)
    "P0003": BadRequest,  # too_many_rows (STRICT INTO)
    "42501": Forbidden,  # insufficient_privilege
    "42": BadRequest,  # syntax error or access rule violation (undefined column, ...)
    "28": ServiceUnavailable,  # invalid authorization: the service's credentials
    "57014": GatewayTimeout,  # query_canceled (statement_timeout)
    "55P03": Conflict,  # lock_not_available
    "55006": Conflict,  # object_in_use
    "40": Conflict,  # transaction rollback: serialization failure, deadlock
    "53": ServiceUnavailable,  # insufficient resources: too many connections, out of memory
    "57P01": ServiceUnavailable,  # admin_shutdown
    "57P02": ServiceUnavailable,  # crash_shutdown
    "57P03": ServiceUnavailable,  # cannot_connect_now
    "57": ServiceUnavailable,  # other operator intervention (database dropped, ...)
    "08": ServiceUnavailable,  # connection exception
    "25006": Forbidden,  # read_only_sql_transaction
    "25": InternalError,  # invalid transaction state
    "0B": InternalError,  # invalid transaction initiation
    "2D": InternalError,  # invalid transaction termination
    "38": InternalError,  # external routine exception
    "39": InternalError,  # external routine invocation exception
    "58": InternalError,  # system error (I/O)
    "XX": InternalError,  # internal error (data corrupted, ...)
    "F0": InternalError,  # configuration file error
    "HV": InternalError,  # foreign data wrapper error
    "P0": InternalError,  # other PL/pgSQL errors (assert_failure)
}

# Classes whose codes are routine client mistakes (bad input, constraints, unknown names)
_EVERYDAY_CLASSES = frozenset({"22", "23", "42"})

# Connection-class failures: the connection (or the server) is gone, not the statement wrong.
_CONNECTION_STATES = frozenset({"57P01", "57P02", "57P03"})


def is_connection_error(exc: psycopg.Error) -> bool:
    """The connection died (SQLSTATE class 08, 57P01-57P03, or a driver error with no state)."""
    state = exc.sqlstate or ""
    if state[:2] == "08" or state in _CONNECTION_STATES:
        return True
    return isinstance(exc, psycopg.OperationalError) and not state


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."


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
    detail = diag.message_detail
    if detail and state[:2] in ("55", "0A", "44", "54"):  # the detail says why, e.g. GROUP BY
        detail = detail.strip().rstrip(".")
        return _sentence(f"{primary.rstrip('.')}: {detail[0].lower()}{detail[1:]}")
    return _sentence(primary)


def classify(exc: psycopg.Error) -> GatewayError:
    """Turn a driver error into the GatewayError the client should see (PostgreSQL's own
    message; its SQLSTATE, or the driver error's class, is kept as `cause` for the log)."""
    state = exc.sqlstate or ""
    cause = state or type(exc).__name__
    err: GatewayError
    if isinstance(exc, pge.QueryCanceled) or state == "57014":
        err = GatewayTimeout(_describe(exc), code=state or 504)
    elif isinstance(exc, psycopg.DataError) and not state:
        # raised by the driver before sending, e.g. a NUL character in a text value
        err = BadRequest(f"Invalid value: {exc}.")
    elif is_connection_error(exc):
        err = ServiceUnavailable(
            "The service's database connection was lost; retry the request.",
            context={"reason": "connection_lost"},
            code=state or 503,
        )
    else:
        cls = _STATUS_BY_SQLSTATE.get(state) or _STATUS_BY_SQLSTATE.get(state[:2])
        if cls is None:  # no SQLSTATE at all (a driver-side failure): the class name only
            cls = InternalError
            err = cls("The database driver reported an unexpected error.", code=500)
        else:
            err = cls(_describe(exc), code=state or cls.status)
            if state not in _STATUS_BY_SQLSTATE and state[:2] not in _EVERYDAY_CLASSES:
                # mapped by its class only: worth a look, and perhaps an entry of its own
                log.info("SQLSTATE %s answered %d by its class: %s", state, err.status, err.message)
    err.cause = cause
    return err


def classify_connect_error(exc: BaseException) -> tuple[str, str]:
    """(kind, actionable message) for a failure to connect to a service database."""
    text = str(exc)
    lowered = text.lower()
    checks = [
        (
            "shutting down",
            "shutting_down",
            "The database server is shutting down; retry once it is back.",
        ),
        (
            "starting up",
            "starting_up",
            "The database server is starting up; retry in a moment.",
        ),
        (
            "recovery mode",
            "starting_up",
            "The database server is recovering from a crash; retry in a moment.",
        ),
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
