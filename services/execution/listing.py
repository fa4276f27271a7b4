"""Answers that list what a service offers: the service root (spec §2.2) and `GET /_table`
(spec §3.1), filtered by what the caller may reach."""

from __future__ import annotations

from typing import Any

from core.access import Access
from core.responses import label_for, plural
from core.verbs import verb_names
from services.catalog.schema_cache import SchemaCache
from services.plan.types import ServiceRoot, TableList

_RESOURCES = (
    ("_schema", "Schema"),
    ("_table", "Tables"),
    ("_proc", "Stored Procedures"),
    ("_func", "Stored Functions"),
)


def service_root(plan: ServiceRoot) -> dict[str, Any]:
    """GET /api/v2/{service} (spec §2.2)."""
    if plan.as_list:
        return {"resource": [name for name, _ in _RESOURCES]}
    if plan.all_fields:
        return {"resource": [{"name": n, "label": label} for n, label in _RESOURCES]}
    return {"resource": [{"name": n} for n, _ in _RESOURCES]}


def table_list(plan: TableList, schema: SchemaCache, grant: Access) -> dict[str, Any]:
    """GET /_table (spec §3.1): the tables and views the caller may reach, sorted by name."""
    masks = {t.name: grant.mask(f"_table/{t.name}") for t in schema.sorted_tables()}
    tables = [t for t in schema.sorted_tables() if masks[t.name]]
    if plan.ids:
        wanted = {i.lower() for i in plan.ids}
        tables = [t for t in tables if t.name.lower() in wanted]
    if plan.as_list:
        return {"resource": [t.name for t in tables]}
    if not plan.all_fields:
        return {"resource": [{"name": t.name} for t in tables]}
    out = []
    for t in tables:
        label = label_for(t.name)
        access = verb_names(masks[t.name] & t.verbs)  # a read-only view takes no writes
        out.append(
            {
                "name": t.name,
                "label": label,
                "description": None,
                "native": [],
                "plural": plural(label),
                "is_view": t.is_view,
                "access": access,
            }
        )
    return {"resource": out}
