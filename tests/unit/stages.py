"""The pure pipeline stages driven from plain values: a request for the hand-built shop
service (catalog_fixture.py), bound, and a compiled statement's text."""

from __future__ import annotations

from typing import Any

import orjson

from core.credentials import Credentials
from core.request import ApiRequest
from services.plan.bind import bind_plan
from services.plan.parse import parse_request
from services.plan.types import Bound
from services.sql.compile import Statement
from tests.unit.catalog_fixture import FakeCatalogs

NO_CREDENTIALS = Credentials(api_key=None, session_token=None)


def request(
    verb: str,
    path: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    *,
    raw: bytes | None = None,
    too_large: bool = False,
    accept: str = "",
) -> ApiRequest:
    """The request for `verb /api/v2/shop/{path}?{query}` with a JSON `body` (or `raw` bytes)."""
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else None)
    return ApiRequest(
        verb=verb,
        service="shop",
        segments=tuple(path.split("/")) if path else (),
        query=query or {},
        body=data,
        body_too_large=too_large,
        credentials=NO_CREDENTIALS,
        path=f"/api/v2/shop/{path}",
        accept=accept,
    )


def bind(
    verb: str,
    path: str,
    query: dict[str, str] | None = None,
    body: Any = None,
    *,
    catalogs: FakeCatalogs | None = None,
    guard: Any = None,
) -> Bound:
    plan = parse_request(request(verb, path, query, body))
    return bind_plan(plan, catalogs or FakeCatalogs(), guard)


def text_of(statement: Statement) -> str:
    query = statement.query
    return query.decode() if isinstance(query, bytes) else query.as_string(None)
