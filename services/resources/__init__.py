"""Non-`_table` resources of a service (`_schema`, `_func`, `_proc`, `_sql`): one module each.

Each module exposes `handle(call: ResourceCall) -> ResourceResult`; the pipeline authenticates,
resolves the service and authorizes before dispatching here, exactly as for `_table`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpResponseBase

from core.access import Access
from core.errors import NotFound
from services.registry import LiveService

# resource name -> module under services/resources/ that serves it
HANDLERS = {
    "_schema": "schema",
    "_func": "routines",
    "_proc": "routines",
    "_sql": "sql_query",
    "_spec": "spec",
}


@dataclass(frozen=True, slots=True)
class ResourceCall:
    """One request to a resource, after authentication and authorization."""

    live: LiveService
    grant: Access
    verb: str
    resource: str  # "_schema", "_func", ...
    segments: tuple[str, ...]  # the path after the resource name (URL-decoded)
    query: Mapping[str, str]
    body: Any  # the parsed JSON body, or services.plan.parse.NO_BODY
    accept: str = ""


# bytes pass through; dict/list/int/str/bool are serialised; a response is returned as is
ResourceResult = bytes | dict[str, Any] | list[Any] | int | str | bool | HttpResponseBase


def dispatch(call: ResourceCall) -> ResourceResult:
    """Hand the call to its resource module."""
    module_name = HANDLERS.get(call.resource)
    if module_name is None:
        raise NotFound(
            f"Resource '{call.resource}' not found for service '{call.live.config.name}'."
        )
    module = importlib.import_module(f"services.resources.{module_name}")
    handler: Callable[[ResourceCall], ResourceResult] = module.handle
    return handler(call)
