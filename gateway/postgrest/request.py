"""Stage 1 of the PostgREST dialect: URL, query and headers -> an ApiRequest for the shared
stages (authenticate, authorize, throttle, the data cache) and a PgrstQuery for the parser.

Credentials: `apikey` (Supabase's header) or `X-DreamFactory-Api-Key` selects the app;
`Authorization: Bearer` carries a gateway session token. Supabase clients also send the key
itself as the bearer when no one is signed in: a bearer equal to the key is no session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from django.core.exceptions import RequestDataTooBig

from core.credentials import Credentials
from core.environ_request import RequestLike
from core.errors import GatewayError, MethodNotAllowed, PayloadTooLarge
from core.request import ApiRequest
from gateway.postgrest.profiles import profiled
from services.plan.pgrst_parse import PgrstQuery
from services.plan.pgrst_write import PgrstWriteQuery
from services.plan.stream_format import stream_format

OBJECT_MEDIA = "application/vnd.pgrst.object+json"
_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE")
_WRITES = frozenset({"POST", "PATCH", "DELETE"})
_RANGE = re.compile(r"^\s*(?:items\s*=\s*)?(\d+)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(GatewayError):
    status = 416
    default_message = "Requested range not satisfiable"


@dataclass(frozen=True, slots=True)
class PgrstRequest:
    api: ApiRequest  # what the shared stages read (resource `_table/<table>`)
    query: PgrstQuery  # what the dialect's parser reads
    singular: bool  # Accept: application/vnd.pgrst.object+json
    write: PgrstWriteQuery | None = None  # POST, PATCH, DELETE: what the write parser reads
    profile: str | None = None  # the schema Accept-/Content-Profile names (checked once admitted)


def _credentials(meta: Mapping[str, str]) -> Credentials:
    api_key = meta.get("HTTP_APIKEY") or meta.get("HTTP_X_DREAMFACTORY_API_KEY") or None
    auth = meta.get("HTTP_AUTHORIZATION", "")
    token = (auth[7:].strip() or None) if auth[:7].lower() == "bearer " else None
    if token is None:
        token = meta.get("HTTP_X_DREAMFACTORY_SESSION_TOKEN") or None
    if token is not None and token == api_key:  # the key sent as bearer: nobody signed in
        token = None
    return Credentials(api_key=api_key, session_token=token)


def _range(header: str) -> tuple[int | None, int | None]:
    """`Range: 0-9` (rows 0 to 9), `Range: 10-` (from row 10); an empty header: none."""
    if not header.strip():
        return None, None
    match = _RANGE.match(header)
    if match is None:
        raise RangeNotSatisfiable(
            "Requested range not satisfiable",
            context={
                "pgrst": "PGRST103",
                "details": f"The Range header '{header[:40]}' is invalid",
            },
        )
    start, end = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    if end is not None and end < start:
        raise RangeNotSatisfiable(
            "Requested range not satisfiable",
            context={"pgrst": "PGRST103", "details": "The first row must not come after the last"},
        )
    return start, end


def query_pairs(query_string: str) -> tuple[tuple[str, str], ...]:
    """`parse_qsl(qs, keep_blank_values=True)`, decoding only the parts that need it (a
    fifth of the cost of the usual `id=eq.1`)."""
    pairs = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" in piece or "+" in piece:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return tuple(pairs)


def _prefers_count(prefer: str) -> bool:
    """`Prefer: count=exact` (planned and estimated are answered exactly too)."""
    if not prefer:
        return False
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "count" and value.strip().lower() in (
            "exact",
            "planned",
            "estimated",
        ):
            return True
    return False


def allowed_method(request: RequestLike, allowed: tuple[str, ...], refusal: str, pgrst: str) -> str:
    """The request's method; another is a 405 (`<METHOD> <refusal>`) that lists the allowed."""
    method = request.method or "GET"
    if method not in allowed:
        raise MethodNotAllowed(
            f"{method[:20]} {refusal}",
            context={"pgrst": pgrst},
            headers={"Allow": ", ".join(allowed)},
        )
    return method


def api_request(
    request: RequestLike,
    verb: str,
    service: str,
    segments: tuple[str, ...],
    query: dict[str, str],
    *,
    if_none_match: str = "",
) -> ApiRequest:
    """What the shared stages read of a dialect request: the caller's credentials and Accept;
    no body (each resource reads its own)."""
    meta = request.META
    return ApiRequest(
        verb=verb,
        service=service,
        segments=segments,
        query=query,
        body=None,
        body_too_large=False,
        credentials=_credentials(meta),
        path=request.path,
        accept=meta.get("HTTP_ACCEPT", ""),
        if_none_match=if_none_match,
    )


def read_pgrst(request: RequestLike, service: str, table: str) -> PgrstRequest:
    """The plain parts of one `/rest/<service>/<table>` request."""
    meta = request.META
    method = allowed_method(
        request,
        _METHODS,
        "is not supported on a table; use GET, HEAD, POST, PATCH or DELETE.",
        "PGRST117",
    )
    table, profile = profiled(request, service, table)  # Accept-/Content-Profile
    pairs = query_pairs(meta.get("QUERY_STRING", ""))
    start, end = _range(meta.get("HTTP_RANGE", ""))
    count = _prefers_count(meta.get("HTTP_PREFER", ""))
    # the data cache keys a read by its query: a column filtered twice, and the headers that
    # shape the read, take part too; so does the dialect, as `/api/v2` reads the same query
    # text otherwise (`?select=*&id=eq.1` filters here, not there). Names are kept apart from
    # the `/api/v2` options the key leaves out (a column may be named `method` or `refresh`),
    # and values from the empty ones it leaves out.
    keyed: dict[str, str] = {"@dialect": "pgrst"}
    for n, (key, value) in enumerate(pairs):
        name = f"q:{key}"
        keyed[name if name not in keyed else f"{name}#{n}"] = f"={value}"
    if start is not None:
        keyed["@range"] = f"{start}-{'' if end is None else end}"
    if count:
        keyed["@count"] = "exact"
    api = api_request(
        request,
        method if method in _WRITES else "GET",
        service,
        ("_table", table),
        keyed,
        if_none_match=meta.get("HTTP_IF_NONE_MATCH", ""),
    )
    singular = OBJECT_MEDIA in api.accept
    # CSV, or NDJSON (which PostgREST lacks), streamed; one object answers JSON
    stream = None if singular else stream_format(api.accept, {}, single=False)
    query = PgrstQuery(
        table=table, pairs=pairs, range_start=start, range_end=end, count=count, stream=stream
    )
    write = None
    if method in _WRITES:
        write = PgrstWriteQuery(
            method=method,
            table=table,
            pairs=pairs,
            body=write_body(request),
            content_type=meta.get("CONTENT_TYPE", ""),
            prefer=meta.get("HTTP_PREFER", ""),
        )
    return PgrstRequest(api=api, query=query, singular=singular, write=write, profile=profile)


def write_body(request: RequestLike) -> bytes | None:
    """The raw body of a write (None: none sent); over the size limit: 413."""
    try:
        return request.body or None
    except RequestDataTooBig:
        raise PayloadTooLarge(
            "Request body is larger than the limit; send fewer rows per request."
        ) from None
