"""A server that cannot work refuses to start, with one line saying why (issue #10), instead
of starting and failing every request: an invalid encryption key, an unreachable or
unmigrated metadata database, the local-memory cache under several workers.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, granian_workers, manage

pytestmark = pytest.mark.slow

REFUSED = "gateway: refusing to start: "


def _serve(env: dict[str, str], workers: int = 1) -> tuple[int, str]:
    """Start granian; it must exit by itself. Its exit code and output."""
    done = subprocess.run(  # noqa: S603
        granian_workers(workers)(free_port()),
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gateway.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def _refusal(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(REFUSED)]
    assert lines, output
    return lines[0].removeprefix(REFUSED)


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'metadata.sqlite3'}"}
    manage({**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}, "migrate", "-v0")
    return env


def test_an_invalid_encryption_key_stops_the_server(migrated: dict[str, str]) -> None:
    code, output = _serve({**migrated, "GATEWAY_ENCRYPTION_KEY": "not-a-fernet-key"})
    assert code != 0
    assert _refusal(output).startswith("gateway.E001: GATEWAY_ENCRYPTION_KEY holds a value")
    assert "not-a-fernet-key" not in output  # the secret itself is never printed


def test_an_unreachable_metadata_database_stops_the_server() -> None:
    port = free_port()  # nothing listens there
    url = f"postgres://gateway:hunter2secret@127.0.0.1:{port}/metadata"
    code, output = _serve({"DATABASE_URL": url})
    assert code != 0
    line = _refusal(output)
    assert line.startswith(
        f"the metadata database (postgresql database metadata at 127.0.0.1:{port}"
    )
    assert "does not answer" in line
    assert "hunter2secret" not in output


def test_an_unmigrated_metadata_database_stops_the_server(tmp_path: Path) -> None:
    code, output = _serve({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    assert code != 0
    assert "python manage.py migrate" in _refusal(output)


def test_the_local_memory_cache_refuses_several_workers(migrated: dict[str, str]) -> None:
    env = {**migrated, "CACHE_URL": "locmemcache://gateway"}
    code, output = _serve(env, workers=2)
    assert code != 0
    assert "local-memory cache is private to each process, so 2 workers" in _refusal(output)
