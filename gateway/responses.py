"""Success shapes of the data API: byte passthrough and DreamFactory's resource wrapper."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import HttpResponse

from rbac.policy import Grant
from rbac.verbs import verb_names
from services.plan.types import ServiceRoot, TableList
from services.schema_cache import SchemaCache

_RESOURCES = (
    ("_schema", "Schema"),
    ("_table", "Tables"),
    ("_proc", "Stored Procedures"),
    ("_func", "Stored Functions"),
)


def json_response(
    body: bytes | dict[str, Any] | list[Any], timings: list[tuple[str, float]] | None = None
) -> HttpResponse:
    """A JSON response; bytes from PostgreSQL pass through untouched."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = HttpResponse(data, content_type="application/json")
    response["Content-Length"] = str(len(data))
    if timings:
        response["Server-Timing"] = ", ".join(
            [f"{name};dur={seconds * 1000:.2f}" for name, seconds in timings]
        )
    return response


def service_root(plan: ServiceRoot) -> dict[str, Any]:
    """GET /api/v2/{service} (spec §2.2)."""
    if plan.as_list:
        return {"resource": [name for name, _ in _RESOURCES]}
    if plan.all_fields:
        return {"resource": [{"name": n, "label": label} for n, label in _RESOURCES]}
    return {"resource": [{"name": n} for n, _ in _RESOURCES]}


def plural(label: str) -> str:
    """A plain English plural for DF's `plural` field; names already plural stay as they are."""
    if label.endswith(("ss", "us", "x", "z", "ch", "sh")):
        return label + "es"
    if label.endswith("s"):
        return label
    if label.endswith("y") and label[-2:-1] not in "aeiou":
        return label[:-1] + "ies"
    return label + "s"


def label_for(name: str) -> str:
    """DF's label: the name camel-cased (`order_items` -> `Order Items`)."""
    return " ".join(w.capitalize() for w in name.replace(".", "_").split("_") if w)


def table_list(plan: TableList, schema: SchemaCache, grant: Grant) -> dict[str, Any]:
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
