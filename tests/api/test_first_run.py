"""`make run` (devtools/run_demo.py, issue #16): each step prints a progress line, the run ends
with the admin URL, the credentials, the docs URL and a curl that works, a second run reuses
what the first made, and an unreachable DEMO_DATABASE_URL stops the run with what to do.

The demo runs as a user starts it (`python -m devtools.run_demo`, what `make run` calls), kept
off the developer's own demo: its own database name on the test PostgreSQL server, metadata and
audit store in SQLite files under tmp_path, a free port, one worker on the local-memory cache.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.demo_run import demo_environment
from tests.servers import ROOT, free_port, http

pytestmark = pytest.mark.slow

START_TIMEOUT = 120.0  # a generous ceiling, not a timing assertion


class DemoRun:
    """`python -m devtools.run_demo` with an environment; its output read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "devtools.run_demo"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def until(self, marker: str) -> str:
        """The output up to and including the first line containing `marker`."""
        while True:
            try:
                line = self._queue.get(timeout=START_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {marker!r} yet:\n" + self.output) from None
            if line is None:
                raise AssertionError(f"ended before {marker!r}:\n" + self.output)
            self.lines.append(line)
            if marker in line:
                return self.output

    def finish(self) -> int:
        """Ctrl-C, as a user stops it; its exit code once the rest of its output is read."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def progress(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("==> ")]


@pytest.fixture
def demo_env(pg_server: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an isolated demo run; its database dropped afterwards."""
    with demo_environment(
        pg_server, tmp_path, label="first_run", admin_password="first-run-password-1234"
    ) as env:
        yield env


def start(env: dict[str, str]) -> tuple[DemoRun, str]:
    for leftover in Path(env["PROMETHEUS_MULTIPROC_DIR"]).iterdir():
        leftover.unlink()  # as run_demo does with its own .data/prometheus
    run = DemoRun(env)
    try:
        return run, run.until("Press Ctrl-C to stop.")
    except BaseException:
        run.finish()
        raise


def test_first_and_second_run_show_each_step_and_end_with_a_working_curl(
    demo_env: dict[str, str],
) -> None:
    port, name = demo_env["PORT"], demo_env["DEMO_DATABASE_NAME"]
    base = f"http://127.0.0.1:{port}"
    run, output = start(demo_env)
    try:
        steps = progress(output)
        expected = [
            "==> looking for PostgreSQL",
            "==> using DEMO_DATABASE_URL",
            f"==> creating database {name}",
            f"==> loading devtools/demo.sql into {name}",
            "==> loading the gateway's settings",
            "==> migrating the metadata database",
            f"==> starting granian (1 worker(s)) on {base}",
            "==> created admin admin@example.com",
            f"==> registered service 'demo' -> database {name}",
            f"==> waiting for {base}/health",
            f"==> ready: pg-gateway demo at {base}/",
        ]
        found = [next((i for i, s in enumerate(steps) if s.startswith(e)), -1) for e in expected]
        assert -1 not in found, output
        assert found == sorted(found), output  # in this order
        # the final block: admin URL, credentials, docs URL, one curl to paste
        block = output[output.index("==> ready") :]
        assert f"admin console:  {base}/admin/" in block
        assert "admin login:    admin@example.com  password: first-run-password-1234" in block
        assert f"API docs:       {base}/docs/" in block
        assert demo_env["SECRET_KEY"] not in output
        assert demo_env["GATEWAY_ENCRYPTION_KEY"] not in output
        snippet = re.search(r"^TOKEN=.*\n^curl .*$", block, re.MULTILINE)
        assert snippet is not None, block
        assert shutil.which("curl"), "the banner's snippet needs curl"
        pasted = subprocess.run(  # noqa: S603
            ["bash", "-c", snippet.group(0)],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
        )
        customers = json.loads(pasted.stdout)["resource"]
        assert "ada@example.com" in [c["email"] for c in customers]
        status, _, _ = http(int(port), "GET", "/admin/login/")
        assert status == 200
    finally:
        code = run.finish()
    assert code == 0, run.output
    assert progress(run.output)[-2:] == ["==> stopping the server", "==> stopped"]

    # a second run reuses the database, the admin and the service
    again, output = start(demo_env)
    try:
        steps = progress(output)
        assert f"==> database {name} already holds the demo tables" in steps
        assert f"==> updated service 'demo' -> database {name}" in steps
        assert not [s for s in steps if s.startswith(("==> creating", "==> loading devtools"))]
        assert "==> created admin admin@example.com" not in steps
        # the workers load while this process checks the migrations
        started = steps.index(next(s for s in steps if s.startswith("==> starting granian")))
        assert steps[started].endswith("(the metadata was migrated by the last run)")
        assert started < steps.index(next(s for s in steps if s.startswith("==> migrating")))
        assert "password: first-run-password-1234" in output
    finally:
        assert again.finish() == 0, again.output


def test_an_unreachable_demo_database_url_stops_with_what_to_do(
    demo_env: dict[str, str],
) -> None:
    closed = free_port()
    url = f"postgresql://demo:not-shown-4711@127.0.0.1:{closed}/postgres"
    done = subprocess.run(
        [sys.executable, "-m", "devtools.run_demo"],
        cwd=ROOT,
        env={**demo_env, "DEMO_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # `make run` then exits with 2
    assert f"error: DEMO_DATABASE_URL (demo@127.0.0.1:{closed}/postgres) does not answer" in (
        done.stdout
    )
    assert "unset DEMO_DATABASE_URL" in done.stdout
    assert "not-shown-4711" not in done.stdout + done.stderr
    assert "==> using" not in done.stdout  # no silent fallback to another server
    assert "Traceback" not in done.stderr


def test_an_unreadable_demo_database_url_says_what_is_expected(
    demo_env: dict[str, str],
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devtools.run_demo"],
        cwd=ROOT,
        env={**demo_env, "DEMO_DATABASE_URL": "postgresql://demo:hide-me-0815@[::1/x"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEMO_DATABASE_URL is not a URL libpq can read" in done.stdout
    assert "postgresql://user:password@host:5432/dbname" in done.stdout
    assert "hide-me-0815" not in done.stdout + done.stderr  # libpq quotes the URL


def test_an_early_start_on_unmigrated_metadata_still_ends_ready(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut's fallback: .data/migrated claims a migrate that never ran (a metadata
    database replaced since); the server starts early, may refuse, and the run still ends
    ready."""
    from devtools import run_demo

    for name in ("DATABASE_URL", "GATEWAY_AUDIT_DATABASE_URL"):
        monkeypatch.setenv(name, demo_env[name])
    run_demo.DATA.mkdir(exist_ok=True)
    run_demo.remember_migrated(run_demo.migrations_fingerprint())
    run, output = start(demo_env)
    try:
        steps = progress(output)
        assert any(s.endswith("(the metadata was migrated by the last run)") for s in steps)
        assert "==> ready: pg-gateway demo at" in output
        status, _, _ = http(int(demo_env["PORT"]), "GET", "/admin/login/")
        assert status == 200
    finally:
        assert run.finish() == 0, run.output
