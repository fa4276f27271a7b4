"""`/_spec`: the service's OpenAPI document (spec §12.3), cached with the schema cache.

The pipeline has authenticated and authorized the caller already; this only builds or reuses.
"""

from __future__ import annotations

import orjson

from core.errors import BadRequest, NotFound
from core.flags import as_bool
from services.openapi.document import build_document
from services.resources import ResourceCall, ResourceResult


def handle(call: ResourceCall) -> ResourceResult:
    """GET the document; `refresh=true` re-reads the schema and rebuilds it."""
    if call.verb != "GET":
        raise BadRequest(f"The {call.verb} verb is not supported on _spec.")
    if call.segments:
        raise NotFound("Resource not found: the document is at /_spec.")
    refresh = as_bool(call.query.get("refresh", "false"))
    live = call.live
    if refresh:
        live.schema(refresh=True)  # drops every cached extra, the document included
    # cached as bytes: the pipeline passes them through without re-encoding
    document: bytes = live.cached(
        "openapi", lambda: orjson.dumps(build_document(live.config, live.schema()))
    )
    return document
