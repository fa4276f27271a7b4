"""The README runs (issue #16): its ```` ```sh walkthrough ```` blocks, in order, by one bash,
against a fresh `make run` demo, and every answer is what the README says.

The demo runs as a user starts it (`python -m devtools.run_demo`), kept off the developer's
own: its own database on the test PostgreSQL server (dropped afterwards), metadata and audit
store in SQLite files under tmp_path, a free port, one worker on the local-memory cache. The
README's `http://127.0.0.1:8000` is replaced by that server's URL; nothing else is changed.

The convention (in full in tests/readme_blocks.py): a block runs when its info string is
`sh walkthrough`; a comment `# -> 201 {"resource": [{"id": 1}]}` (a status, JSON fields, or a
header such as `# -> X-Cache: HIT`) states the answer of the command before it; every other
answer must be a success. A failure names the README line, its section and the command.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.demo_run import demo_environment
from tests.readme_blocks import Step, bash_script, check_step, walkthrough_steps
from tests.servers import ROOT

README = ROOT / "README.md"
ADMIN_PASSWORD = "readme-walkthrough-password"
START_TIMEOUT = 120.0  # generous ceilings, not timing assertions
RUN_TIMEOUT = 180.0

# What the walkthrough must show (issue #16, scope item 2): a pattern some step's command
# matches, or, for an answer, some step's `# ->` header.
COVERAGE = {
    "an admin login": r"/api/v2/system/admin/session",
    "a read": r'curl -s "\$B/_table/customers" ',
    "a filter": r"filter=",
    "related records": r"related=",
    "a write": r'-X POST "\$B/_table/',
    "a batch with rollback": r"rollback=true",
    "_schema": r"\$B/_schema",
    "_func": r"\$B/_func",
    "a role": r'-X POST "\$S/role"',
    "an app with an API key": r'-X POST "\$S/app"',
    "a call with the API key": r"-H \"\$K\"",
    "a user session": r"-X POST http://127.0.0.1:8000/api/v2/user/session",
    "its refresh": r"-X PUT http://127.0.0.1:8000/api/v2/user/session",
    "its logout": r"-X DELETE http://127.0.0.1:8000/api/v2/user/session",
    "streaming": r"application/x-ndjson",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh `make run` demo (its own database and metadata); its base URL."""
    tmp_path = tmp_path_factory.mktemp("demo")
    with demo_environment(
        pg_server, tmp_path, label="readme", admin_password=ADMIN_PASSWORD
    ) as env:
        yield from _serve(env, tmp_path)


def _serve(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Run the demo in `env` until the test is done; its base URL."""
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "devtools.run_demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, log)
        yield f"http://127.0.0.1:{env['PORT']}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops it
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while "Press Ctrl-C to stop." not in log.read_text(errors="replace"):
        if process.poll() is not None:
            raise AssertionError(f"make run's demo ended:\n{log.read_text(errors='replace')}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the demo never got ready:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def test_the_walkthrough_covers_what_the_issue_asks() -> None:
    steps = walkthrough_steps(README.read_text())
    missing = [
        what
        for what, pattern in COVERAGE.items()
        if not any(re.search(pattern, s.text) for s in steps)
    ]
    headers = {e.header[0] for s in steps for e in s.expects if e.header is not None}
    if not {"x-cache", "etag"} <= headers:
        missing.append("the cache headers (`# -> X-Cache: ...` and `# -> ETag: ...`)")
    assert not missing, f"README.md's walkthrough blocks show no {', no '.join(missing)}"


def test_a_drift_fails_naming_the_block_and_the_line(demo: str, tmp_path: Path) -> None:
    """The checks bite: a wrong field, a wrong status and a wrong header each fail, named by
    the README line and section (read-only calls, so the walkthrough's own run is unaffected)."""
    drifted = "\n".join(
        [
            "## Reading",  # line 1
            "```sh walkthrough",
            "TOKEN=$(curl -s -X POST http://127.0.0.1:8000/api/v2/system/admin/session \\",
            f'  -d \'{{"email":"admin@example.com","password":"{ADMIN_PASSWORD}"}}\' \\',
            "  | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"session_token\"])')",
            'H="X-DreamFactory-Session-Token: $TOKEN"',
            "B=http://127.0.0.1:8000/api/v2/demo",
            'curl -s "$B/_table/products/1" -H "$H"   # -> {"sku":"KB-001","price":1.5}',  # line 8
            'curl -s "$B/_table/nosuch" -H "$H"       # -> 200',  # line 9
            'curl -s "$B/_table/products/2" -H "$H"',  # line 10
            "# -> X-Cache: HIT",
            'curl -s "$B/_table/products/3" -H "$H"   # -> 200 {"name":"27\\" monitor"}',  # 12
            "```",
        ]
    )
    steps = walkthrough_steps(drifted)
    failures = _failures(steps, _run(steps, demo, tmp_path))
    assert [f.split(":", 1)[0] for f in failures] == [
        'README.md line 8 ("Reading")',
        'README.md line 9 ("Reading")',
        'README.md line 10 ("Reading")',
    ], failures
    assert "line 8: price: expected 1.5, got 89.9" in failures[0]
    assert "status 404, the README says 200" in failures[1]
    assert "line 11: " in failures[2] and "x-cache" in failures[2]


def test_the_readme_walkthrough_runs_in_order_against_a_fresh_demo(
    demo: str, tmp_path: Path
) -> None:
    steps = walkthrough_steps(README.read_text())
    answers = _run(steps, demo, tmp_path)
    failures = _failures(steps, answers)
    assert not failures, (
        f"{len(failures)} README walkthrough step(s) drifted from the code "
        f"(first shown first; later ones may follow from it):\n\n"
        + "\n\n".join(failures[:8])
        + (f"\n\nbash stderr: {stderr[-1500:]}" if (stderr := _stderr(answers)) else "")
    )


def _run(steps: list[Step], base_url: str, tmp_path: Path) -> Path:
    """Run the steps in one bash, in a scratch directory; where their answers are."""
    assert shutil.which("curl") and shutil.which("bash"), "the walkthrough needs bash and curl"
    answers, work = tmp_path / "answers", tmp_path / "work"
    work.mkdir()
    script = tmp_path / "walkthrough.sh"
    script.write_text(bash_script(steps, base_url, answers))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),  # no ~/.curlrc of the developer's
        "LANG": "C.UTF-8",
        "DEMO_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    done = subprocess.run(  # noqa: S603
        ["bash", "--noprofile", "--norc", str(script)],  # noqa: S607
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    (answers / "bash.stderr").write_text(done.stderr)
    return answers


def _stderr(answers: Path) -> str:
    path = answers / "bash.stderr"
    return path.read_text().strip() if path.exists() else ""


def _failures(steps: list[Step], answers: Path) -> list[str]:
    failures = []
    for index, step in enumerate(steps):
        if problems := check_step(step, answers, index):
            failures.append(step.where + "\n  - " + "\n  - ".join(problems))
    return failures
