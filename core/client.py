"""The client's address, for login throttling, rate limits and the audit trail."""

from __future__ import annotations

from django.conf import settings

from core.environ_request import RequestLike


def client_address(request: RequestLike) -> str:
    """REMOTE_ADDR; behind trusted proxies (GATEWAY_TRUST_X_FORWARDED_FOR), the address the
    outermost trusted proxy saw.

    Each proxy appends the address it was connected from to X-Forwarded-For, so with N trusted
    proxies the last N hops of `X-Forwarded-For + [REMOTE_ADDR]` are the proxies themselves and
    the hop before them is the client. Anything further left was sent by the client and can be
    forged, so it is never used.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "unknown")
    if not settings.GATEWAY_TRUST_X_FORWARDED_FOR:
        return remote
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [remote]
    proxies = max(1, settings.GATEWAY_TRUSTED_PROXY_COUNT)
    return hops[-(proxies + 1)] if len(hops) > proxies else hops[0]
