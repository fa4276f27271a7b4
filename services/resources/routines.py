"""Placeholder: this resource is being built (issue #5)."""

from __future__ import annotations

from gateway.errors import NotImplementedYet
from services.resources import ResourceCall, ResourceResult


def handle(call: ResourceCall) -> ResourceResult:
    raise NotImplementedYet(f"Resource '{call.resource}' is not available yet on this gateway.")
