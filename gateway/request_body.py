"""Read a request's JSON body: size-limited, exact decimals, a 400 that says where it broke."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from gateway.errors import BadRequest, PayloadTooLarge


def read_json_body(request: HttpRequest, empty: Any = None) -> Any:
    """The parsed body (numbers with a fraction become Decimal so numeric columns stay exact)."""
    if request.META.get("CONTENT_LENGTH", "") in ("", "0") and "chunked" not in request.META.get(
        "HTTP_TRANSFER_ENCODING", ""
    ):
        return empty
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(
            f"Request body is larger than the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes; "
            "send fewer records per request."
        ) from None
    if not raw:
        return empty
    try:
        return json.loads(raw, parse_float=Decimal)
    except RecursionError:
        raise BadRequest(
            "Malformed JSON in request body: it is nested too deeply.",
            context={"body": "nest objects and arrays at most a few hundred levels deep"},
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise BadRequest(
            f"Malformed JSON in request body{where}: {getattr(exc, 'msg', str(exc))}.",
            context={"body": "the request body must be valid JSON (UTF-8)"},
        ) from None
