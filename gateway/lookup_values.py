"""Lookups in what a client sends (spec §7.6): `{name}` tokens in `filter` and `having`, in
the values of written records and in routine parameters are replaced, after authorization,
with the caller's values: the built-in `{user.*}`, `{role.*}`, `{app.*}` and the admin's
non-private lookups (system < app < role < user). Private lookups never reach here.

Only text that holds a `{name}` token costs anything; the request is otherwise passed on
as it came. Substituted text is what the later stages (and the read cache's key) see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from core.request import ApiRequest
from lookups.text import TOKEN, TOKEN_BYTES, as_text, fill, resolve
from rbac.policy import Principal, lookups_for

FILTER_PARAMS = ("filter", "having")
ROUTINES = frozenset({"_func", "_proc"})
WITH_BODY = ROUTINES | {"_table"}
CREDENTIAL_PARAMS = frozenset({"api_key", "session_token"})


def _query_keys(req: ApiRequest) -> list[str]:
    kind = req.segments[0] if req.segments else ""
    if kind in ROUTINES:  # every parameter of a routine call
        return [k for k in req.query if k not in CREDENTIAL_PARAMS]
    return [k for k in FILTER_PARAMS if k in req.query]


def with_lookups(req: ApiRequest, principal: Principal) -> ApiRequest:
    """`req` with the caller's lookups substituted; `req` itself when it names none."""
    keys = [k for k in _query_keys(req) if TOKEN.search(req.query[k])]
    kind = req.segments[0] if req.segments else ""
    body = req.body if kind in WITH_BODY else None
    in_body = body is not None and TOKEN_BYTES.search(body) is not None
    if not keys and not in_body:
        return req
    values = lookups_for(principal)
    query = req.query
    if keys:
        query = {**req.query, **{k: fill(req.query[k], values) for k in keys}}
    if in_body and body is not None:
        body = TOKEN_BYTES.sub(lambda m: _json_text(m, values), body)
    return replace(req, query=query, body=body if in_body else req.body)


def _json_text(match: re.Match[bytes], values: Mapping[str, Any]) -> bytes:
    """The value for a token inside a JSON string, escaped for it."""
    token = TOKEN.fullmatch(match.group(0).decode())
    if token is None:
        return match.group(0)
    return orjson.dumps(as_text(resolve(token, values)))[1:-1]
