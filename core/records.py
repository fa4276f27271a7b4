"""DreamFactory's record wrapper (spec §1.4), shared by the data API and the system API."""

from __future__ import annotations

from typing import Any

from core.errors import BadRequest

# the request attribute where the system API's permission notes the data services a
# non-admin caller's role reaches (None: every one); read by RecordResource.visible()
REACHABLE_SERVICES = "gateway_services"

NO_RECORDS = (
    "No record(s) detected in request. Please make sure record(s) are wrapped in a 'resource' "
    'tag. Example: {"resource":[{"record":1},{"record":2}]}'
)


def records_from_body(body: Any) -> tuple[Any, ...] | None:
    """Unwrap records: {"resource": [...]} or a bare array; a bare object has none."""
    if isinstance(body, dict):
        if "resource" in body:
            records = body["resource"]
            if isinstance(records, dict):
                return (records,)
            if isinstance(records, list):
                return tuple(records)
            raise BadRequest("The 'resource' member must be an array of records.")
        return None
    if isinstance(body, list):
        return tuple(body)
    return None
