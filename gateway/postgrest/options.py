"""`OPTIONS /rest/<service>/<table>` and `/rpc/<fn>`: the `Allow` header.

As PostgREST documents it, the verbs are what the table or view itself allows (its
updatability: a view without INSTEAD OF triggers is read-only), not the caller's
permissions; PUT needs a primary key. A STABLE or IMMUTABLE function allows
`OPTIONS,GET,HEAD,POST`; a VOLATILE one, and a procedure, `OPTIONS,POST`. The caller must
still reach the resource (GET for a table, a call for a routine), so OPTIONS tells nothing
about resources a role cannot see. A CORS preflight never gets here (gateway/cors.py).
"""

from __future__ import annotations

from core.environ_request import RequestLike
from core.request import ApiRequest
from core.responses import ApiResponse
from core.verbs import DELETE, PATCH, POST, PUT
from gateway.pipeline import admit
from gateway.postgrest.profiles import PROFILE_HEADER, check_profile, profiled
from gateway.postgrest.request import _credentials
from gateway.postgrest.rpc import routine_kind
from services.plan.pgrst_rpc import unknown_function
from services.registry import registry


def _admitted(request: RequestLike, service: str, segments: tuple[str, str], verb: str) -> str:
    """Admit the caller to the resource; the schema the profile chooses."""
    req = ApiRequest(
        verb=verb,
        service=service,
        segments=segments,
        query={},
        body=None,
        body_too_large=False,
        credentials=_credentials(request.META),
        path=request.path,
        accept="",
        if_none_match="",
    )
    _, live, _ = admit(req)
    return check_profile(profiled(request, service, segments[1])[1], live)


def _allow(verbs: list[str], schema: str) -> ApiResponse:
    response = ApiResponse(b"", 200)
    response["Allow"] = ",".join(verbs)
    response[PROFILE_HEADER] = schema
    return response


def table_options(request: RequestLike, service: str, table: str) -> ApiResponse:
    name, _ = profiled(request, service, table)
    schema = _admitted(request, service, ("_table", name), "GET")
    found = registry.get(service).schema().table(name)  # unknown: 404 PGRST205
    verbs = ["OPTIONS", "GET", "HEAD"]
    for bit, verb in ((POST, "POST"), (PUT, "PUT"), (PATCH, "PATCH"), (DELETE, "DELETE")):
        if found.verbs & bit and (bit != PUT or found.primary_key):
            verbs.append(verb)
    return _allow(verbs, schema)


def rpc_options(request: RequestLike, service: str, fn: str) -> ApiResponse:
    name, _ = profiled(request, service, fn)
    kind = routine_kind(service, name)
    live = registry.find(service)
    overloads = live.routines().find(kind, name) if live is not None else None
    writes = kind == "procedure" or all(r.volatility == "v" for r in overloads or ())
    resource = "_proc" if kind == "procedure" else "_func"
    # admitted as for a call: POST for what may write, GET otherwise
    schema = _admitted(request, service, (resource, name), "POST" if writes else "GET")
    if overloads is None:
        raise unknown_function(name, ())
    return _allow(["OPTIONS", "POST"] if writes else ["OPTIONS", "GET", "HEAD", "POST"], schema)
