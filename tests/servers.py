"""Real gateway processes for tests that need them: granian serving gateway.wsgi:application
on a free port, with the environment a test gives it (metadata DB, cache, settings)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any, dict[str, str]]:
    """(status, parsed JSON or text, headers with lower-case names) of one request."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        raw, status, got = exc.read(), exc.code, dict(exc.headers)
    parsed: Any = json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()
    return status, parsed, {k.lower(): v for k, v in got.items()}


def manage(env: dict[str, str], *args: str) -> str:
    """Run a manage.py command with this environment; its output (fails the test on error)."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def granian(port: int) -> list[str]:
    """One granian worker, as devtools/run_demo.py and the Dockerfile start it."""
    return [
        *(sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1"),
        *("--blocking-threads", "2", "--no-ws", "--host", "127.0.0.1", "--port", str(port)),
        *("--log-level", "info", "gateway.wsgi:application"),
    ]


def granian_workers(workers: int) -> Callable[[int], list[str]]:
    """granian with several single-threaded workers, as the Dockerfile runs it."""

    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "granian", "--interface", "wsgi"),
            *("--workers", str(workers), "--blocking-threads", "1", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "info"),
            "gateway.wsgi:application",
        ]

    return command


def gunicorn(port: int) -> list[str]:
    """The documented alternative (graceful on SIGTERM up to --graceful-timeout)."""
    return [
        *(sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "2"),
        *("--bind", f"127.0.0.1:{port}", "--no-control-socket", "gateway.wsgi:application"),
    ]


class GatewayServer:
    """A production server process on a free port, with the test's environment."""

    def __init__(
        self,
        env: dict[str, str],
        log: Path,
        command: Callable[[int], list[str]] = granian,
    ) -> None:
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gateway.settings", **env}
        self.log = log
        self.port = free_port()
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> GatewayServer:
        command = self.command(self.port)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited:\n{self.log.read_text()}")
            try:
                if self.call("GET", "/health", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never answered:\n{self.log.read_text()}")
            time.sleep(0.1)

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return http(self.port, method, path, body, **kw)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
