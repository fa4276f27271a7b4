"""The client's address, for login throttling and (later) the audit trail."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the first X-Forwarded-For entry behind a trusted proxy."""
    if settings.GATEWAY_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        first = forwarded.split(",", 1)[0].strip()
        if first:
            return first
    return str(request.META.get("REMOTE_ADDR") or "unknown")
