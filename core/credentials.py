"""Stage 1: pull the API key and session token out of a request (spec §7.1). No DB, no checks.

Absence is data, not an error: authentication decides what a missing credential means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from core.environ_request import RequestLike


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None
    session_token: str | None


def extract_credentials(
    request: RequestLike, query: Mapping[str, str] | None = None
) -> Credentials:
    """API key: ?api_key, then the header. Token: Bearer, the header, then ?session_token."""
    meta = request.META
    if query is None:
        query = query_params(request)
    api_key = query.get("api_key") or meta.get("HTTP_X_DREAMFACTORY_API_KEY") or None
    token = None
    auth = meta.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip() or None
    if token is None:
        token = meta.get("HTTP_X_DREAMFACTORY_SESSION_TOKEN") or query.get("session_token") or None
    return Credentials(api_key=api_key, session_token=token)


def query_params(request: RequestLike) -> dict[str, str]:
    """The query string as a plain dict (last value wins, as QueryDict's [] does).

    Cheaper than building Django's QueryDict on the data API's hot path.
    """
    return dict(parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True))
