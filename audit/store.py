"""The audit store: the database alias "audit" (GATEWAY_AUDIT_DATABASE_URL; by default a WAL-mode
SQLite file of its own), apart from the metadata admins edit, and how events are written there in
batches: binary COPY on PostgreSQL, one `executemany` INSERT on SQLite's own connection.

Never runs on the request path (the flusher, the exit flush and management commands call it),
and never writes anything but AuditEvent rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, router
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Field
from psycopg import sql

from audit.models import AuditEvent
from audit.record import FIELDS, Row, copy_values
from audit.router import ALIAS

# PostgreSQL types of the FIELDS, for binary COPY (no text formatting of each value)
_COPY_TYPES = (
    "timestamptz",
    "varchar",
    "int4",
    "varchar",
    "int4",
    "varchar",
    "int4",
    "varchar",
    "varchar",
    "varchar",
    "varchar",
    "int2",
    "float8",
    "int8",
    "varchar",
    "bool",
)
_TIME = FIELDS.index("time")


def alias() -> str:
    """The database alias AuditEvent is written to (ALIAS, through the router)."""
    return router.db_for_write(AuditEvent)


def describe(name: str = ALIAS) -> str:
    """A database alias for a person: "sqlite file X" or "postgresql database N at host:port"
    (never a password)."""
    db = settings.DATABASES[name]
    vendor = str(db["ENGINE"]).rsplit(".", 1)[-1]
    if vendor == "sqlite3":
        return f"sqlite file {db['NAME']}"
    where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 'default port'}"
    return f"{vendor} database {db['NAME']} at {where}"


def _column(name: str) -> str:
    field = AuditEvent._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise TypeError(f"audit field {name} is no column")  # a bug: FIELDS are columns
    return field.column


def _sqlite_insert(connection: Any) -> str:
    """INSERT INTO the table (FIELDS' columns) VALUES (?, ...), in sqlite3's own paramstyle."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(n)) for n in FIELDS)
    marks = ", ".join("?" for _ in FIELDS)
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608


def _sqlite_time(values: list[Any]) -> list[Any]:
    """`time` as Django stores a datetime in SQLite: naive UTC text, `str(datetime)`."""
    when = values[_TIME]
    if when.utcoffset():
        when = when.astimezone(UTC)
    values[_TIME] = str(when.replace(tzinfo=None))
    return values


def write_values(values: Iterable[list[Any]], name: str) -> None:
    """Write AuditEvent field values (lists in FIELDS order, `time` an aware UTC datetime, texts
    within their columns; the lists may be changed) to the database `name`, inside the caller's
    transaction: binary COPY on PostgreSQL (a tenth of bulk_create's CPU), one executemany
    INSERT on SQLite's own connection (a fifth; `manage.py audit_write_cost` measures both),
    bulk_create elsewhere."""
    connection = connections[name]
    if connection.vendor == "postgresql":
        columns = [sql.Identifier(_column(n)) for n in FIELDS]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(AuditEvent._meta.db_table), sql.SQL(", ").join(columns)
        )
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            copy.set_types(_COPY_TYPES)
            for row in values:
                copy.write_row(row)
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        raw.executemany(_sqlite_insert(connection), map(_sqlite_time, values))
    else:
        events = [AuditEvent(**dict(zip(FIELDS, v, strict=True))) for v in values]
        AuditEvent.objects.using(name).bulk_create(events)


def insert_rows(rows: list[Row], name: str) -> None:
    """Write buffered Rows (see audit.record) to the database `name`, in the caller's
    transaction."""
    write_values(map(copy_values, rows), name)


# --- the preflight and the legacy table ---------------------------------------------------


def problem() -> str | None:
    """Why this process cannot write the audit trail, in one line (gateway/startup.py refuses to
    start on it), or None. Only in "db" mode: "log" and "off" never write the store."""
    if settings.GATEWAY_AUDIT != "db":
        return None
    connection = connections[ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]
        pending = executor.migration_plan(targets)
    except DatabaseError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return (
            f"the audit store ({describe()}, GATEWAY_AUDIT_DATABASE_URL) does not answer: "
            f"{type(exc).__name__}: {first}"
        )
    finally:
        if not connection.in_atomic_block:  # the probe's connection is not kept
            connection.close()
    if pending:
        return (
            f"the audit store ({describe()}) lacks {len(pending)} migration(s): run "
            "`python manage.py migrate` (it migrates the metadata database and the audit store; "
            "the container does with MIGRATE_ON_START=1)"
        )
    return None


def same_database(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two DATABASES entries name one database (the audit store must be a database of
    its own: two aliases on one database would share one migration history)."""
    if first["ENGINE"] != second["ENGINE"]:
        return False
    if str(first["ENGINE"]).endswith("sqlite3"):
        names = [str(first["NAME"]), str(second["NAME"])]
        if ":memory:" in names or any("mode=memory" in n for n in names):
            return False  # each connection has its own, or a test database's
        return Path(names[0]).resolve() == Path(names[1]).resolve()
    keys = ("NAME", "HOST", "PORT")
    return all(str(first.get(k) or "") == str(second.get(k) or "") for k in keys)


def legacy_table(name: str = "default") -> bool:
    """Whether the database `name` (the metadata database) still has the audit table of a
    gateway from before the audit store of its own, with at least one event in it."""
    if name == ALIAS or same_database(settings.DATABASES[name], settings.DATABASES[ALIAS]):
        return False
    connection = connections[name]
    table = AuditEvent._meta.db_table
    if table not in connection.introspection.table_names():
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")  # noqa: S608
        return cursor.fetchone() is not None
