"""Stage 1: pull the API key and session token out of a request (spec §7.1). No DB, no checks.

Absence is data, not an error: authentication decides what a missing credential means.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str | None
    session_token: str | None


def extract_credentials(request: HttpRequest) -> Credentials:
    """API key: ?api_key, then the header. Token: Bearer, the header, then ?session_token."""
    meta = request.META
    query = request.GET
    api_key = query.get("api_key") or meta.get("HTTP_X_DREAMFACTORY_API_KEY") or None
    token = None
    auth = meta.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip() or None
    if token is None:
        token = meta.get("HTTP_X_DREAMFACTORY_SESSION_TOKEN") or query.get("session_token") or None
    return Credentials(api_key=api_key, session_token=token)
