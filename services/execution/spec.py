"""Execute stage for `/_spec`: the service's OpenAPI document (spec §12.3), cached with the
schema cache as bytes (passed through without re-encoding)."""

from __future__ import annotations

import orjson

from services.openapi.document import build_document
from services.plan.types import SpecRead
from services.registry import LiveService


def spec_document(live: LiveService, plan: SpecRead) -> bytes:
    """The document; `refresh=true` re-reads the schema and rebuilds it."""
    if plan.refresh:
        live.schema(refresh=True)  # drops every cached extra, the document included
    # cached as bytes: the pipeline passes them through without re-encoding
    document: bytes = live.cached(
        "openapi", lambda: orjson.dumps(build_document(live.config, live.schema()))
    )
    return document
