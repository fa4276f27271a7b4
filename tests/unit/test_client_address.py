"""The client address behind proxies (issue #10): only hops added by trusted proxies count."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from core.client import client_address


def _address(forwarded: str | None, *, trust: bool = True, proxies: int = 1) -> str:
    meta = {"REMOTE_ADDR": "10.0.0.2"}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    with override_settings(
        GATEWAY_TRUST_X_FORWARDED_FOR=trust, GATEWAY_TRUSTED_PROXY_COUNT=proxies
    ):
        return client_address(request)


def test_without_trust_the_header_is_ignored() -> None:
    assert _address("203.0.113.9", trust=False) == "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("203.0.113.9", 1, "203.0.113.9"),  # one proxy: the address it was connected from
        ("6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # a forged entry on the left is skipped
        ("6.6.6.6,203.0.113.9, 10.0.0.1", 2, "203.0.113.9"),  # load balancer -> nginx -> us
        ("203.0.113.9", 2, "203.0.113.9"),  # fewer hops than proxies: the leftmost
        ("", 1, "10.0.0.2"),  # no header: the peer itself
        (None, 1, "10.0.0.2"),
    ],
)
def test_the_client_is_the_hop_before_the_trusted_proxies(
    forwarded: str | None, proxies: int, expected: str
) -> None:
    assert _address(forwarded, proxies=proxies) == expected
