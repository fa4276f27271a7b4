"""Execute stage for `/_spec`: the service's OpenAPI document (spec §12.3) as the caller's role
sees it, cached with the schema cache as bytes (passed through without re-encoding).

A document is built per distinct set of rights, not per role: its cache key is a digest of
the caller's verbs on every component the document could show, so a changed role (or a new
table or routine) gets a new document at once, and roles with the same rights share one.
"""

from __future__ import annotations

import hashlib

import orjson

from core.access import Access
from services.catalog.routines import RoutineCatalog
from services.catalog.schema_cache import SchemaCache
from services.openapi.document import build_document
from services.plan.types import SpecRead
from services.registry import LiveService

_RESOURCES = ("_table", "_schema", "_func", "_proc", "_sql")


def _components(schema: SchemaCache, routines: RoutineCatalog) -> list[str]:
    """Every component whose verbs decide what the document holds."""
    out = list(_RESOURCES)
    for table in schema.sorted_tables():
        out += [f"_table/{table.name}", f"_table/{table.name}/{{id}}", f"_schema/{table.name}"]
    out += [f"_func/{n}" for n in routines.names("function")]
    out += [f"_proc/{n}" for n in routines.names("procedure")]
    return out


def spec_document(live: LiveService, plan: SpecRead, access: Access) -> bytes:
    """The document; `refresh=true` re-reads the schema and rebuilds it."""
    if plan.refresh:
        live.schema(refresh=True)  # drops every cached extra, the documents included
    schema, routines = live.schema(), live.routines()
    if access.is_admin:
        key, masks = "openapi:admin", None
    else:
        masks = {c: access.mask(c) for c in _components(schema, routines)}
        digest = hashlib.sha256(orjson.dumps(sorted(masks.items()))).hexdigest()[:32]
        key = f"openapi:{digest}"

    def build() -> bytes:
        mask = None if masks is None else (lambda component: masks.get(component, 0))
        return orjson.dumps(build_document(live.config, schema, routines=routines, mask=mask))

    document: bytes = live.cached(key, build)
    return document
