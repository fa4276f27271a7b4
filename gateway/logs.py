"""Log records as one JSON object a line (LOG_FORMAT=json), each with the request id.

RequestFilter tags every record with the id of the /api/ request in flight and blanks the
credentials a query string may carry (api_key, session_token); it never adds request data.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponseBase

from core.context import RequestContext, current

# A credential in a query string (?api_key=..., &session_token=...) inside a log message.
_CREDENTIAL = re.compile(
    r"(?P<name>(?:api_key|session_token|token|password)=)[^&\s\"']*", re.IGNORECASE
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with the values of credential query parameters replaced."""
    if "=" not in text:
        return text
    return _CREDENTIAL.sub(lambda m: m.group("name") + REDACTED, text)


class RequestFilter(logging.Filter):
    """Adds `record.request_id` (None outside a request) and redacts query-string credentials.

    Attached to the handler, so it runs in the thread that logged, where the request's
    context variable is still set.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            context = current()
            record.request_id = context.request_id if context is not None else None
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


failures = logging.getLogger("gateway.failures")


def log_failure(context: RequestContext, response: HttpResponseBase) -> None:
    """Observer: one line for every 5xx answer (issue #10): the request id, the service, what
    caused it (SQLSTATE or exception class) and what the client was told. A traceback, when
    there is one, was logged where the exception was caught; the client never gets one."""
    status = response.status_code
    if status < 500:
        return
    fields = {
        "status": status,
        "method": context.verb or context.method,
        "path": context.path,
        "service": context.service,
        "cause": context.cause,
        "told": context.error,
        "ms": round(context.duration * 1000, 1),
    }
    level = logging.WARNING if status in (503, 504) else logging.ERROR
    text = " ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in fields.items())
    failures.log(level, "request failed: %s", text, extra={"fields": fields})


class SkipApiRequests(logging.Filter):
    """For django.request: /api/ answers are logged by log_failure (5xx) or not at all (4xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        path = getattr(request, "path_info", "") or ""
        return not path.startswith("/api/")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id[, exc_info], plus
    the items of a record's `fields` (logger.info(..., extra={"fields": {...}}))."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if entry["request_id"] is None:  # a handler configured without RequestFilter
            context = current()
            entry["request_id"] = context.request_id if context is not None else None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            entry["exc_info"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):  # structured records (the audit stream) keep their fields
            entry.update({k: v for k, v in fields.items() if k not in entry})
        return json.dumps(entry, ensure_ascii=False, default=str)
