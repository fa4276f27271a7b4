"""core.environ_request.EnvironRequest reads a WSGI environ as Django's WSGIRequest does."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.test import override_settings

from core.environ_request import EnvironRequest


def environ(path: str, script: str = "", body: bytes = b"", **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "post",
        "PATH_INFO": path,
        "SCRIPT_NAME": script,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **extra,
    }


PATHS = [
    "/api/v2/shop/_table/todo/1",
    "/api/v2/shop/_table/caf\u00e9".encode().decode("iso-8859-1"),  # UTF-8 bytes, as WSGI has them
    "/api/v2/shop/_table/\u00ff\u00fe",  # bytes that are not UTF-8: Django re-percents them
    "",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("script", ["", "/gw", "/gw/"])
def test_paths_and_method_as_django_reads_them(path: str, script: str) -> None:
    ours = EnvironRequest(environ(path, script))
    django = WSGIRequest(environ(path, script))
    assert (ours.path_info, ours.path, ours.method) == (django.path_info, django.path, "POST")


def test_a_rewritten_url_or_a_forced_script_name_take_djangos_reading() -> None:
    rewritten = environ("/api/v2/x", SCRIPT_URL="/prefix/api/v2/x")
    assert EnvironRequest(dict(rewritten)).path == WSGIRequest(dict(rewritten)).path
    with override_settings(FORCE_SCRIPT_NAME="/forced"):
        assert EnvironRequest(environ("/api/v2/x")).path == "/forced/api/v2/x"


def test_body_read_once_and_limited() -> None:
    request = EnvironRequest(environ("/api", body=b'{"a":1}'))
    assert request.body == b'{"a":1}' and request.body == b'{"a":1}'
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=3):
        with pytest.raises(RequestDataTooBig):
            _ = EnvironRequest(environ("/api", body=b'{"a":1}')).body
