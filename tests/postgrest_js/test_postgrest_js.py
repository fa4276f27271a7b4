"""The `/rest/shop/` scenarios driven with `@supabase/postgrest-js` on Node 22 (issue #14):
every scenario of scenarios.mjs must pass. Runs when GATEWAY_JS_CLIENT=1 (then installs Node
and the client on first use) or when they are already installed; `python
tests/postgrest_js/run.py` runs it."""

from __future__ import annotations

import os
from typing import Any

import psycopg
import pytest

from tests.conftest import FIXTURES, SEED_SQL
from tests.postgrest.conftest import Rest
from tests.postgrest_js import run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("GATEWAY_JS_CLIENT") != "1" and not run.installed(),
        reason="postgrest-js is not installed: GATEWAY_JS_CLIENT=1, or tests/postgrest_js/run.py",
    ),
]


def test_postgrest_js_scenarios_pass(rest: Rest, fixture_db: dict[str, Any]) -> None:
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute(SEED_SQL)  # the rows the scenarios expect (the writes come last)
        conn.execute((FIXTURES / "seed_pgrst_embed.sql").read_text())
    print(run.ensure_installed())
    names = os.environ.get("GATEWAY_JS_SCENARIOS", "").split()
    done = run.run_scenarios(rest.base_url, rest.api_key, rest.admin_token, names)
    print(done.stdout, done.stderr)
    assert done.returncode == 0, f"postgrest-js scenarios failed:\n{done.stdout}\n{done.stderr}"
