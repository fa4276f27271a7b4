"""Stage 1 of the data API: a request (Django's or core.environ_request's) becomes plain parts;
the request object stops here.

ApiRequest is what every later stage sees: the verb after tunnelling, the service and the path
below it, the query, the raw body, the credentials and the few headers that matter. Nothing
in it is parsed beyond what the transport defines (the JSON body is parsed by the parse stage).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import RequestDataTooBig

from core.credentials import Credentials, extract_credentials, query_params
from core.environ_request import RequestLike
from core.errors import BadRequest, MethodNotAllowed

DATA_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_OVERRIDE_VERBS = frozenset({"GET", "PUT", "PATCH", "DELETE", "POST", "MERGE"})


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One data API request as plain data."""

    verb: str  # after X-HTTP-Method tunnelling; HEAD reads as GET
    service: str  # the namespace as written in the URL
    segments: tuple[str, ...]  # the path below the service, e.g. ("_table", "orders", "5")
    query: Mapping[str, str]  # last value wins, as DF reads it
    body: bytes | None  # None: no body was sent
    body_too_large: bool  # over GATEWAY_MAX_BODY_BYTES (answered by the parse stage)
    credentials: Credentials
    path: str  # for request.path in database-role claims
    accept: str = ""
    if_none_match: str = ""

    @property
    def resource(self) -> str:
        """The path below the service as one string (`_table/orders/5`), for rules and limits."""
        return "/".join(self.segments)


def effective_verb(method: str, meta: Mapping[str, str], query: Mapping[str, str]) -> str:
    """POST may tunnel another verb (X-HTTP-Method, X-Method-Override, ?method=, _method);
    HEAD reads like GET; any other method is a 405 that lists the allowed ones."""
    verb = method or "GET"
    if verb == "HEAD":
        return "GET"
    if verb not in DATA_METHODS:
        raise MethodNotAllowed(
            f"Method {verb[:20]} is not allowed here; use {', '.join(DATA_METHODS)}.",
            headers={"Allow": ", ".join(DATA_METHODS)},
        )
    if verb == "POST":
        override = (
            meta.get("HTTP_X_HTTP_METHOD")
            or meta.get("HTTP_X_METHOD_OVERRIDE")
            or query.get("method")
            or query.get("_method")
        )
        if override:
            verb = override.upper()
            if verb not in _OVERRIDE_VERBS:
                raise BadRequest(f"Unsupported method override '{override}'.")
    return "PATCH" if verb == "MERGE" else verb


def _raw_body(request: RequestLike) -> tuple[bytes | None, bool]:
    meta = request.META
    if meta.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in meta.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return None, False
    try:
        return request.body or None, False
    except RequestDataTooBig:
        return None, True


def read_request(request: RequestLike, service: str, resource: str) -> ApiRequest:
    """The plain parts of a data API request (`resource`: the URL path below the service)."""
    meta = request.META
    query = query_params(request)
    path = resource.strip("/")
    body, too_large = _raw_body(request)
    return ApiRequest(
        verb=effective_verb(request.method or "GET", meta, query),
        service=service,
        segments=tuple(path.split("/")) if path else (),
        query=query,
        body=body,
        body_too_large=too_large,
        credentials=extract_credentials(request, query),
        path=request.path,
        accept=meta.get("HTTP_ACCEPT", ""),
        if_none_match=meta.get("HTTP_IF_NONE_MATCH", ""),
    )
