"""What a role rule's component may name on a database service, read from its live schema: the
admin console offers these as the picker's choices and refuses a table or routine the service
does not have (`_table/nosuch_table`)."""

from __future__ import annotations

from core.errors import GatewayError
from rbac.rules import normalize_component
from services.models import Service
from services.registry import registry

WILDCARDS = ("*", "_table/*", "_func/*", "_proc/*", "_schema/*")
_KINDS = {"_table": "table", "_schema": "table", "_func": "function", "_proc": "procedure"}


def components(service: Service) -> list[str] | None:
    """Every component of `service`, wildcards first; None when its schema cannot be read now
    (unreachable, inactive): the form then takes the component as typed."""
    if not service.is_active or not service.is_database:
        return None
    try:
        live = registry.get(service.name)
        tables = [t.name for t in live.schema().sorted_tables()]
        routines = live.routines()
        functions, procedures = routines.names("function"), routines.names("procedure")
    except GatewayError:
        return None
    return [
        *WILDCARDS,
        *(f"_table/{t}" for t in tables),
        *(f"_schema/{t}" for t in tables),
        *(f"_func/{f}" for f in sorted(functions)),
        *(f"_proc/{p}" for p in sorted(procedures)),
    ]


def problem(service: Service, component: str) -> str:
    """Why `component` names nothing on `service` ("" when it does, or when the schema cannot
    be read now)."""
    known = components(service)
    text = normalize_component(component)
    if known is None or not text or "*" in text:
        return ""
    kind, _, rest = text.partition("/")
    if kind not in _KINDS:
        return f"'{component}' is not a component of a database service; pick one from the list."
    name = rest.split("/", 1)[0]
    if not name or f"{kind}/{name}" in {normalize_component(c) for c in known}:
        return ""
    return (
        f"Service '{service.name}' has no {_KINDS[kind]} '{name}'; pick one from the list "
        "(or a wildcard such as _table/*)."
    )
