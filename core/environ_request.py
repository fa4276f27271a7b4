"""The data API's request, read straight from a WSGI environ: what Django's WSGIRequest gives
the API's first steps (META, method, path_info, path, body) without the rest of its set-up
(content-type parsing, stream wrappers), which cost about a twentieth of a primary-key read.

gateway/wsgi.py builds one for data API paths; everything else gets Django's WSGIRequest.
Paths are decoded as Django decodes them; the body obeys DATA_UPLOAD_MAX_MEMORY_SIZE the same
way (RequestDataTooBig when the declared length is over it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import get_path_info, get_script_name
from django.http import UnreadablePostError


class RequestLike(Protocol):
    """What the API reads of a request: Django's HttpRequest and EnvironRequest both are one."""

    @property
    def META(self) -> Mapping[str, Any]: ...

    @property
    def method(self) -> str | None: ...

    @property
    def path_info(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def body(self) -> bytes: ...


def _path_info(environ: dict[str, Any]) -> str:
    """PATH_INFO as Django decodes it (WSGI strings are latin-1 decoded bytes; the bytes are
    UTF-8), with Django's own function for the rare path that is not valid UTF-8."""
    raw = environ.get("PATH_INFO", "/")
    if raw.isascii():
        return str(raw)
    try:
        return str(raw.encode("iso-8859-1").decode())
    except (UnicodeEncodeError, UnicodeDecodeError):
        return str(get_path_info(environ))


def _script_name(environ: dict[str, Any]) -> str:
    """SCRIPT_NAME as Django reads it; Django's own function where a setting or a rewrite
    (SCRIPT_URL, REDIRECT_URL) is involved."""
    raw = environ.get("SCRIPT_NAME", "")
    if (
        settings.FORCE_SCRIPT_NAME is None
        and "SCRIPT_URL" not in environ
        and "REDIRECT_URL" not in environ
        and raw.isascii()
    ):
        return str(raw)
    return str(get_script_name(environ))


class EnvironRequest:
    __slots__ = ("META", "_body", "method", "path", "path_info")

    def __init__(self, environ: dict[str, Any]) -> None:
        script_name = _script_name(environ)
        path_info = _path_info(environ) or "/"
        self.META = environ
        self.path_info = path_info
        self.path = f"{script_name.rstrip('/')}/{path_info.replace('/', '', 1)}"
        environ["PATH_INFO"] = path_info
        environ["SCRIPT_NAME"] = script_name
        self.method: str | None = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self._body: bytes | None = None

    @property
    def body(self) -> bytes:
        """The body (read once, up to its Content-Length)."""
        if self._body is None:
            try:
                length = int(self.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is not None and length > limit:
                raise RequestDataTooBig(
                    "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."
                )
            try:
                self._body = self.META["wsgi.input"].read(length) if length > 0 else b""
            except OSError as exc:
                raise UnreadablePostError(*exc.args) from exc
        return self._body
