"""`/api/v2/{service}/_sql`: one parameterised SQL statement, where the admin allows it.

Off unless the service's `allow_sql` is set. The statement goes to PostgreSQL as written with
`$1`-style placeholders and the values bound server-side (never spliced). GET runs it in a
READ ONLY transaction; POST may write, and is reached only with POST on the `_sql` component
(a caller authorized for POST by an older rule set, or called directly without it, still
reads only). The service's statement_timeout and max_records apply. Session settings the
statement changes are reset before the connection goes back to the pool.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.access import Access
from core.errors import BadRequest, Forbidden, GatewayError
from core.verbs import POST
from services.db import executor
from services.db.pgerrors import classify
from services.plan.types import SqlQuery
from services.registry import LiveService


def may_write(plan: SqlQuery, grant: Access) -> bool:
    """Writes through `_sql` need POST, and POST on the `_sql` component."""
    return not plan.read_only and bool(grant.verbs & POST)


def _write_refused(plan: SqlQuery, grant: Access, message: str) -> GatewayError:
    """The answer to a statement that tried to write in a read-only transaction: 400 when the
    caller could have written with POST, 403 when its role only reads `_sql`."""
    if plan.read_only and grant.verbs & POST:
        return BadRequest(
            "GET /_sql runs statements read-only and this statement tried to write; send it"
            f" with POST instead. ({message})",
            code="25006",
        )
    return Forbidden(
        "This caller may only read through _sql (the statement tried to write); writing needs"
        f" POST on the _sql component. ({message})",
        code="25006",
    )


def _json_text(value: Any) -> str:
    """JSON text for a value psycopg loaded; numerics keep their exact digits."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            json.dumps(value)
            if value == value and abs(value) != float("inf")
            else json.dumps(str(value))
        )
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return json.dumps(value.isoformat())
    if isinstance(value, bytes | bytearray | memoryview):
        return json.dumps(base64.b64encode(bytes(value)).decode())
    if isinstance(value, dict):
        items = (json.dumps(str(k)) + ":" + _json_text(v) for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, uuid.UUID | dt.timedelta):
        return json.dumps(str(value))
    return json.dumps(str(value))


def _bind(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict) else value


def run_sql(live: LiveService, plan: SqlQuery, access: Access) -> bytes:
    """Run the statement and answer `{"resource": rows, "meta": {"count", "columns"}}`."""
    config = live.config
    if not config.allow_sql:
        raise Forbidden(
            f"SQL queries are disabled for service '{config.name}'. An admin can enable them "
            "with the service option allow_sql."
        )
    if config.use_db_roles and not access.is_admin:
        # a statement could reset the database role it runs as (set_config('role', ...))
        raise Forbidden(
            f"SQL queries through _sql are for admins only on service '{config.name}', which "
            "runs requests under database roles."
        )
    query, params = plan.query, [_bind(p) for p in plan.params]
    cap = config.effective_max_records
    read_only = not may_write(plan, access)
    with executor.connection(live, write=not read_only) as conn:
        try:
            with conn.transaction():
                if read_only:
                    conn.execute("SET TRANSACTION READ ONLY")
                cur = psycopg.RawCursor(conn)
                # prepare=True forces the extended protocol even without parameters, so
                # PostgreSQL refuses a second statement smuggled in after a semicolon
                cur.execute(query, params, prepare=True)
                columns = [c.name for c in cur.description] if cur.description else []
                rows = cur.fetchmany(cap + 1) if cur.description else []
                affected = cur.rowcount
        except psycopg.Error as exc:
            error = classify(exc)
            if exc.sqlstate == "25006":
                raise _write_refused(plan, access, error.message) from None
            raise error from None
        finally:
            if not conn.closed:
                conn.execute("RESET ALL; DISCARD TEMP")  # nothing the statement set leaks
    truncated = len(rows) > cap
    rows = rows[:cap]
    body = ",".join(
        "{"
        + ",".join(json.dumps(c) + ":" + _json_text(v) for c, v in zip(columns, row, strict=True))
        + "}"
        for row in rows
    )
    meta: dict[str, Any] = {"count": len(rows), "columns": columns}
    if not columns:
        meta["affected"] = affected
    if truncated:
        meta["truncated"] = True
        meta["max_records"] = cap
    return ('{"resource":[' + body + '],"meta":' + json.dumps(meta) + "}").encode()
