"""The gateway's own CPU per request, in process: a steady figure for before/after a change.

    python bench/inprocess.py [--requests 3000] [--rounds 5] [--workloads W1 W2 W4 W5]
                              [--profile W1 [--pstats FILE]]

No server and no load generator: `gateway.wsgi.application` is called directly with synthetic
environs (bench/auth_overhead.py's), as an admin, so what is measured is the gateway's Python
work per request (`time.process_time`, which leaves out the waits on PostgreSQL) with the
production settings bench/run.py gives the server (audit and metrics on). On a shared machine
this moves far less than req/s does. Setup as bench/run.py: the fixture, a throwaway SQLite
metadata database, the service `bench`.

Workloads as bench/run.py's W1 (one row by id), W2 (25 rows, filter + order), W4 (one-row
insert; rows deleted at the end) and W5 (`POST /_func/bench_order_status`). Each round runs
`--requests` calls of every workload, in turns of 200 so a disturbance falls on all alike;
the table gives the median µs/request over the rounds. `--profile W1` adds a cProfile listing
of the gateway's own functions for that workload.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.auth_overhead import WsgiApp, call, environ_for  # noqa: E402
from bench.run import ADMIN_EMAIL, INSERT_ROW, SERVICE, TABLE_URL, gateway_env, setup_gateway  # noqa: E402

TURN = 200
OWN_CODE = ("gateway", "rbac", "apikeys", "services", "limits", "audit", "core")


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    method: str
    path: str
    query: str = ""
    body: str = ""  # "{n}" in path, query or body: a random integer in 1..n_max
    n_max: int = fixture.ROWS

    def environ(self, n: int, headers: dict[str, str]) -> dict[str, Any]:
        environ = environ_for(self.path.format(n=n), self.query.format(n=n), headers)
        environ["REQUEST_METHOD"] = self.method
        if self.body:
            raw = self.body.replace("{n}", str(n)).encode()
            environ.update(
                {
                    "wsgi.input": io.BytesIO(raw),
                    "CONTENT_LENGTH": str(len(raw)),
                    "CONTENT_TYPE": "application/json",
                }
            )
        return environ


WORKLOADS = {
    w.key: w
    for w in (
        Workload("W1", "one row by id", "GET", f"{TABLE_URL}/{{n}}"),
        Workload(
            "W2",
            "25 rows, filter + order",
            "GET",
            TABLE_URL,
            "filter=customer_id%3D{n}&order=created_at%20desc&limit=25",
            n_max=fixture.CUSTOMERS,
        ),
        Workload(
            "W4", "one-row insert", "POST", TABLE_URL, body=json.dumps({"resource": [INSERT_ROW]})
        ),
        Workload(
            "W5",
            "call an SQL function",
            "POST",
            f"/api/v2/{SERVICE}/_func/{fixture.FUNCTION}",
            body='{"params": {"p_id": {n}}}',
        ),
    )
}


def admin_headers() -> dict[str, str]:
    from rbac.models import User
    from rbac.sessions import issue_token

    token, _ = issue_token(User.objects.get(email=ADMIN_EMAIL), issuer="bench")
    return {"X-DreamFactory-Session-Token": token}


def run_turn(app: WsgiApp, w: Workload, headers: dict[str, str], count: int) -> float:
    """CPU seconds of `count` calls (environs built beforehand, outside the clock)."""
    environs = [w.environ(random.randint(1, w.n_max), headers) for _ in range(count)]
    started = time.process_time()
    for environ in environs:
        status, body = call(app, environ)
        if status >= 300:
            raise RuntimeError(f"{w.key}: status {status}: {body[:300]!r}")
    return time.process_time() - started


def measure(
    app: WsgiApp, workloads: list[Workload], headers: dict[str, str], args: argparse.Namespace
) -> dict[str, list[float]]:
    per_round: dict[str, list[float]] = {w.key: [] for w in workloads}
    for w in workloads:  # warm-up: caches, prepared statements, pools
        run_turn(app, w, headers, 300)
    for r in range(args.rounds):
        spent = dict.fromkeys(per_round, 0.0)
        for turn in range(max(1, args.requests // TURN)):
            order = (
                workloads[(turn + r) % len(workloads) :] + workloads[: (turn + r) % len(workloads)]
            )
            for w in order:
                spent[w.key] += run_turn(app, w, headers, TURN)
        calls = max(1, args.requests // TURN) * TURN
        for key, seconds in spent.items():
            per_round[key].append(seconds / calls * 1e6)
    return per_round


def profile(
    app: WsgiApp, w: Workload, headers: dict[str, str], count: int, dump: str | None = None
) -> str:
    profiler = cProfile.Profile(time.process_time)  # CPU, not waits on PostgreSQL
    profiler.enable()
    run_turn(app, w, headers, count)
    profiler.disable()
    if dump:
        profiler.dump_stats(dump)  # every function, libraries included: `python -m pstats FILE`
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime")
    own = [f for f in stats.stats if any(f"/{part}/" in f[0] for part in OWN_CODE)]  # type: ignore[attr-defined]
    total = sum(stats.stats[f][2] for f in stats.stats)  # type: ignore[attr-defined]
    calls = stats.total_calls / count  # type: ignore[attr-defined]  # steady where µs are not
    lines = [
        f"cProfile of {count} x {w.key} (tottime; {total * 1e6 / count:.0f} µs/call profiled;"
        f" {calls:.0f} function calls per request)"
    ]
    for f in sorted(own, key=lambda f: -stats.stats[f][2])[:25]:  # type: ignore[attr-defined]
        tottime = stats.stats[f][2]  # type: ignore[attr-defined]
        where = f"{Path(f[0]).relative_to(ROOT)}:{f[1]} {f[2]}"
        lines.append(f"  {tottime * 1e6 / count:7.1f} µs  {where}")
    return "\n".join(lines)


@contextmanager
def gateway_in_process(prefix: str) -> Iterator[tuple[WsgiApp, dict[str, str]]]:
    """The gateway's WSGI application with bench/run.py's production settings over a throwaway
    metadata directory, and an admin's headers; afterwards the inserted rows are removed and
    the audit trail stored before its file goes."""
    fixture.ensure_fixture(lambda line: print(line, file=sys.stderr))
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        env = gateway_env(workdir)
        setup_gateway(env)
        os.environ.update(env)
        from gateway.wsgi import application

        yield application, admin_headers()
    finally:
        with fixture.connect(fixture.DATABASE) as conn:
            fixture.remove_inserted_rows(conn)
        if "gateway.wsgi" in sys.modules:
            from audit.recorder import recorder

            recorder.stop()
            recorder.flush()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="calls per workload and round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--profile", choices=list(WORKLOADS), help="cProfile one workload")
    p.add_argument("--pstats", metavar="FILE", help="with --profile: also save the whole profile")
    args = p.parse_args(argv)
    command = shlex.join(
        ["python", "bench/inprocess.py", *(sys.argv[1:] if argv is None else argv)]
    )
    with gateway_in_process("gateway-inprocess-") as (application, headers):
        workloads = [WORKLOADS[k] for k in args.workloads]
        results = measure(application, workloads, headers, args)
        profiled = (
            profile(application, WORKLOADS[args.profile], headers, 2000, args.pstats)
            if args.profile
            else ""
        )
    print(f"command: `{command}`; Python {platform.python_version()}; {args.rounds} rounds")
    print()
    print("| workload | gateway CPU µs/request (median) | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for w in workloads:
        values = results[w.key]
        print(
            f"| {w.key} {w.title} | {statistics.median(values):.0f} "
            f"| {min(values):.0f} | {max(values):.0f} |"
        )
    if profiled:
        print()
        print(profiled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
