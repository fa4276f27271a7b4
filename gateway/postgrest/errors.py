"""PostgREST's error body `{"code", "details", "hint", "message"}` from our GatewayErrors.

The code is the one the error carries for the dialect (`context["pgrst"]`, set by the
dialect's parser and stages), else the SQLSTATE of a database error (with PostgREST's
SQLSTATE -> HTTP status table), else one chosen by the error's kind: an unknown table is
PGRST205 (404), an unknown column 42703 (400), a missing or bad credential PGRST301/302.
Statuses PostgREST has no code for (429, 413) carry `GW<status>`.
"""

from __future__ import annotations

from typing import Any

import orjson

from core.context import note_error
from core.errors import GatewayError
from core.responses import ApiResponse
from services.catalog.schema_cache import UnknownColumn, UnknownTable

# PostgREST's table (docs: references/errors, "HTTP Status Codes"); most specific first
_SQLSTATE_STATUS = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    "42883": 404,
    "42P01": 404,
    "42501": 403,
    "57014": 504,  # statement timeout: the gateway's own status (PostgREST answers 500)
    "P0001": 400,
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}
_BY_STATUS = {401: "PGRST301", 403: "42501", 404: "PGRST205", 405: "PGRST117", 406: "PGRST116"}
# bind's messages for names it cannot resolve (they raise plain BadRequests)
_UNKNOWN_FIELD = ("Invalid field", "Invalid or unparsable field")


def _is_sqlstate(code: Any) -> bool:
    return isinstance(code, str) and len(code) == 5 and code.isalnum()


def describe(error: GatewayError) -> tuple[int, dict[str, Any]]:
    """The status and body PostgREST would answer for `error`."""
    context = error.context if isinstance(error.context, dict) else {}
    status, details, hint = error.status, context.get("details"), context.get("hint")
    code = context.get("pgrst")
    if code is None and _is_sqlstate(error.code):
        code = str(error.code)
        mapped = _SQLSTATE_STATUS.get(code, _SQLSTATE_STATUS.get(code[:2], status))
        # never a 500 for what the gateway knows is the request's fault (e.g. 55000: a view
        # PostgreSQL cannot write through), where PostgREST would answer 500
        status = status if mapped >= 500 and status < 500 else mapped
    if code is None:
        if isinstance(error, UnknownTable):
            code, status = "PGRST205", 404
            hint = "If the table was just created, it is found on the next request."
        elif isinstance(error, UnknownColumn) or (
            status == 400 and error.message.startswith(_UNKNOWN_FIELD)
        ):
            code = "42703"
        elif status == 401 and "no valid session" in error.message.lower():
            code = "PGRST302"
        elif status == 400:
            code = "PGRST100"
        else:
            code = _BY_STATUS.get(status, f"GW{status}")
    body = {"code": code, "details": details, "hint": hint, "message": error.message}
    return status, body


def error_answer(error: GatewayError) -> ApiResponse:
    note_error(error.message, error.cause or type(error).__name__)
    status, body = describe(error)
    response = ApiResponse(orjson.dumps(body), status)
    response["Content-Type"] = "application/json; charset=utf-8"
    for name, value in error.headers.items():
        response[name] = value
    return response
