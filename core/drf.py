"""DRF glue: render every system API error through the same envelope as the data API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from core.context import note_error
from core.errors import (
    BadRequest,
    Forbidden,
    GatewayError,
    MethodNotAllowed,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from core.request_body import parse_json

_BY_TYPE: list[tuple[type[Exception], type[GatewayError]]] = [
    (drf.NotAuthenticated, NotAuthenticated),
    (drf.AuthenticationFailed, NotAuthenticated),
    (drf.PermissionDenied, Forbidden),
    (drf.NotFound, NotFound),
    (Http404, NotFound),
    (drf.MethodNotAllowed, MethodNotAllowed),
    (drf.UnsupportedMediaType, UnsupportedMediaType),
    (drf.ParseError, BadRequest),
    (drf.ValidationError, BadRequest),
]


class GatewayJSONParser(JSONParser):
    """DRF's JSON parser with the data API's checks: a 400 naming where the JSON broke, and
    no lone surrogate (which no database can store) in any string."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        return parse_json(raw, exact_numbers=False) if raw else {}


class AnyTypeJSONParser(GatewayJSONParser):
    """JSON bodies sent with another (or no) Content-Type, as DF sniffs them (spec §1.3):
    `curl -d '{...}'` sends application/x-www-form-urlencoded. Listed after GatewayJSONParser."""

    media_type = "*/*"


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(v) for v in detail)
    return str(detail)


def as_gateway_error(exc: Exception) -> GatewayError | None:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(
            f"Request body is larger than the limit of {settings.GATEWAY_MAX_BODY_BYTES} bytes."
        )
    if isinstance(exc, RecursionError):
        return BadRequest("Malformed JSON in request body: it is nested too deeply.")
    for source, target in _BY_TYPE:
        if isinstance(exc, source):
            detail = getattr(exc, "detail", None)
            if isinstance(exc, drf.ValidationError):
                return BadRequest(
                    "Validation failed: " + _flatten(detail), context={"fields": detail}
                )
            if isinstance(exc, drf.ParseError):
                return BadRequest(f"Malformed JSON in request body: {_flatten(detail)}")
            return target(_flatten(detail) if detail else None)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: GatewayError and DRF's own errors -> the envelope."""
    error = as_gateway_error(exc)
    if error is None:
        return None
    note_error(error.message, error.cause or type(exc).__name__)
    return Response({"error": error.as_dict()}, status=error.status, headers=error.headers)
