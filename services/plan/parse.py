"""Stage 6, parse: one ApiRequest -> one Plan, for every resource of a service.

The body is parsed here (JSON, exact decimals, a 400 naming where it broke, a 413 over the
limit); each resource's options are read by its own parser into typed plans. Nothing here
looks at the database: names stay names until bind.py resolves them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from core.errors import NotFound, PayloadTooLarge
from core.request import ApiRequest
from core.request_body import parse_json
from services.plan.parse_resources import parse_routines, parse_schema, parse_spec, parse_sql
from services.plan.parse_table import parse_service_root, parse_table
from services.plan.types import NO_BODY, Plan

Parser = Callable[[str, tuple[str, ...], Mapping[str, str], Any], Plan]

PARSERS: dict[str, Parser] = {
    "_schema": parse_schema,
    "_func": parse_routines,
    "_proc": parse_routines,
    "_sql": parse_sql,
    "_spec": parse_spec,
}


def read_body(req: ApiRequest) -> Any:
    """The JSON body, or NO_BODY when none was sent."""
    if req.body_too_large:
        raise PayloadTooLarge(
            f"Request body is larger than the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes; "
            "send fewer records per request."
        )
    if req.body is None:
        return NO_BODY
    return parse_json(req.body)


def parse_request(req: ApiRequest) -> Plan:
    """The Plan for one request, or a 400/404/413 naming what is wrong."""
    body = read_body(req)
    if not req.segments:
        return parse_service_root(req.verb, req.query, body)
    resource = req.segments[0]
    if resource == "_table":  # the only resource whose answer may stream (Accept decides)
        return parse_table(req.verb, req.segments, req.query, body, accept=req.accept)
    parser = PARSERS.get(resource)
    if parser is None:
        raise NotFound(f"Resource '{resource}' not found for service '{req.service}'.")
    return parser(req.verb, req.segments, req.query, body)
