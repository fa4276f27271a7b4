"""Run planned `_schema` changes: one transaction per table (or one for all with rollback).

The only module that executes DDL. Every run ends with a schema-cache refresh, so the next
request (`/_table/{new}` included) sees the change; a failed table changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from core.errors import BadRequest, Conflict, GatewayError
from services.catalog.describe import Extras, extras_for
from services.catalog.schema_cache import SchemaCache
from services.db import executor
from services.db.pgerrors import classify
from services.ddl.changes import (
    RefTarget,
    alter_table,
    create_table,
    pending_target,
    ref_target_of,
)
from services.plan.table_spec import TableSpec, check_identifier, parse_table
from services.registry import LiveService
from services.sql import ddl

# SQLSTATEs of DDL refusals that services/db/pgerrors.py does not single out
_DDL_STATES: dict[str, type[GatewayError]] = {
    "2BP01": Conflict,  # dependent_objects_still_exist: a view or foreign key needs it
    "0A000": Conflict,  # feature_not_supported: e.g. changing the type of a column a view uses
    "55006": Conflict,  # object_in_use
    "3F000": BadRequest,  # invalid_schema_name
}


def db_error(exc: psycopg.Error) -> GatewayError:
    """A DDL failure as the error the client sees (never the SQL text)."""
    state = exc.sqlstate or ""
    diag = exc.diag
    cls = _DDL_STATES.get(state)
    if cls is not None:
        primary = diag.message_primary or "The database refused the change"
        text = primary[0].upper() + primary[1:].rstrip(".") + "."
        if diag.message_detail:  # which view or key depends on it: one line per object
            detail = "; ".join(line.strip() for line in diag.message_detail.splitlines())
            text += " " + detail[0].upper() + detail[1:].rstrip(".") + "."
        return cls(text, code=state)
    if state == "23502" and diag.column_name:
        return BadRequest(
            f"Field '{diag.column_name}' can not be NULL: the table has rows without a value "
            "for it. Give it a default, or allow_null: true.",
            code=state,
        )
    return classify(exc)


def execute(conn: psycopg.Connection[Any], statements: Iterable[ddl.Statement]) -> None:
    """Run statements inside the caller's transaction; a failure raises the mapped error."""
    try:
        conn.execute(ddl.LOCK_TIMEOUT)
        for statement in statements:
            conn.execute(statement)
    except psycopg.Error as exc:
        raise db_error(exc) from None


def run_in_transaction(live: LiveService, statements: list[ddl.Statement]) -> None:
    """All statements or none, then refresh the schema cache."""
    try:
        with executor.connection(live, write=True) as conn, conn.transaction():
            execute(conn, statements)
    finally:
        live.schema_changed()


@dataclass
class TableRun:
    """Applies table specs against one schema snapshot; later tables may reference earlier ones."""

    live: LiveService
    cache: SchemaCache
    extras: Extras
    allow_merge: bool = True
    drop_unlisted: bool = False
    pending: dict[str, RefTarget] = field(default_factory=dict)

    def resolve(self, name: str) -> RefTarget:
        table = self.cache.find_table(name)
        if table is not None:
            return ref_target_of(table)
        target = self.pending.get(name.lower())
        if target is None:
            raise BadRequest(f"Referenced table '{name}' does not exist in the database.")
        return target

    def location(self, name: str) -> tuple[str, str, str]:
        """(schema, table, API name) for a new table (`schema.table` when serving all schemas)."""
        configured = self.live.config.schema
        if configured:
            schema, db_name, api = configured, name, name
        elif "." in name:
            schema, db_name = name.split(".", 1)
            api = db_name if schema == "public" else name
        else:
            schema, db_name, api = "public", name, name
        check_identifier(schema, "schema")
        check_identifier(db_name, "table")
        return schema, db_name, api

    def plan(self, spec: TableSpec) -> tuple[list[ddl.Statement], str]:
        table = self.cache.find_table(spec.name)
        if table is not None:
            if not self.allow_merge:
                raise BadRequest(f"A table with name '{spec.name}' already exist in the database.")
            statements = alter_table(
                table,
                extras_for(self.extras, table),
                spec,
                self.resolve,
                drop_unlisted=self.drop_unlisted,
            )
            return statements, spec.new_name or table.name
        schema, db_name, api = self.location(spec.name)
        self.pending[api.lower()] = pending_target(spec, schema, db_name, api)
        try:
            return create_table(spec, schema, db_name, self.resolve), api
        except GatewayError:
            del self.pending[api.lower()]
            raise


def apply_tables(
    live: LiveService,
    items: list[Any],
    *,
    parse: Callable[[Any], TableSpec] = parse_table,
    allow_merge: bool = True,
    drop_unlisted: bool = False,
    rollback: bool = False,
) -> list[str | GatewayError]:
    """Create or alter each table; one table, or rollback, raises the first error.

    Without rollback each table is its own transaction and a failing table's slot holds its
    error (spec §4.4); with rollback everything is one transaction.
    """
    cache = live.schema()
    run = TableRun(live, cache, live.extras(cache), allow_merge, drop_unlisted)
    results: list[str | GatewayError] = []
    all_or_nothing = rollback or len(items) == 1
    try:
        with executor.connection(live, write=True) as conn:
            if all_or_nothing:
                with conn.transaction():
                    for item in items:
                        statements, name = run.plan(parse(item))
                        execute(conn, statements)
                        results.append(name)
                return results
            for item in items:
                known = set(run.pending)
                try:
                    statements, name = run.plan(parse(item))
                    with conn.transaction():
                        execute(conn, statements)
                    results.append(name)
                except GatewayError as err:
                    results.append(err)
                    for key in set(run.pending) - known:  # it was not created after all
                        del run.pending[key]
            return results
    finally:
        live.schema_changed()
