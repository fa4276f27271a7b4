"""Typed gateway errors and the one place that renders the DreamFactory error envelope.

Inner code raises these; it never builds an HttpResponse. The envelope is
`{"error": {"code", "context", "message", "status_code"}}` (spec §6.1), with plain-text messages.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson


class GatewayError(Exception):
    """Base of every error the gateway answers on purpose."""

    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."
    # what caused it, for the log line of a 5xx (an SQLSTATE or an exception class); never sent
    cause: str | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        context: Any = None,
        code: int | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        self.context = context
        self.code = code if code is not None else self.status
        self.headers = headers or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        """The inner object of the envelope (also used inside batch errors)."""
        return {
            "code": self.code,
            "context": self.context,
            "message": self.message,
            "status_code": self.status,
        }


class BadRequest(GatewayError):
    status = 400
    default_message = "Bad request."


class NotAuthenticated(GatewayError):
    status = 401
    default_message = "There is no valid session for the current request."


class Forbidden(GatewayError):
    status = 403
    default_message = "Access Forbidden."


class NotFound(GatewayError):
    status = 404
    default_message = "Not found."


class MethodNotAllowed(GatewayError):
    status = 405
    default_message = "Method not allowed."


class Conflict(GatewayError):
    status = 409
    default_message = "Conflict."


class PayloadTooLarge(GatewayError):
    status = 413
    default_message = "Request body is too large."


class UriTooLong(GatewayError):
    status = 414
    default_message = "The request URL is too long."


class UnsupportedMediaType(GatewayError):
    status = 415
    default_message = "Unsupported media type."


class TooManyRequests(GatewayError):
    status = 429
    default_message = "API limit(s) exceeded. "


class InternalError(GatewayError):
    status = 500


class NotImplementedYet(GatewayError):
    status = 501
    default_message = "Not implemented."


class ServiceUnavailable(GatewayError):
    status = 503
    default_message = "The database is unavailable."


class GatewayTimeout(GatewayError):
    status = 504
    default_message = "The database did not answer in time."


class BatchError(GatewayError):
    """A batch write or batch read that did not fully succeed (spec §3.8): 400, code 1000."""

    status = 400

    def __init__(self, message: str, *, context: Any) -> None:
        super().__init__(message, context=context, code=1000)


def render_error(error: GatewayError) -> bytes:
    """Serialise an error to the envelope's bytes."""
    return orjson.dumps({"error": error.as_dict()})
