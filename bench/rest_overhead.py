"""W1 through `/rest/` (the PostgREST dialect) against W1 through `/api/v2/`: the gateway's own
CPU per request, in process (issue #14: the second front door must cost no more).

    python bench/rest_overhead.py [--requests 3000] [--rounds 5] [--stages 7000]
                                  [--profile rest-object [--pstats FILE]]

As bench/inprocess.py (whose set-up, environs and turns it reuses): no server, no load
generator; `gateway.wsgi.application` called directly as an admin with production settings
(audit and metrics on), CPU of this process (`time.process_time`, waits on PostgreSQL left
out). One row by a random primary key of the 1M-row fixture, four ways:

  v2            GET /api/v2/bench/_table/bench_orders/{id}            (bench/run.py's W1)
  v2-filter     GET /api/v2/bench/_table/bench_orders?filter=id%3D{id}   (no key-read shortcut)
  rest-object   GET /rest/bench/bench_orders?id=eq.{id}, Accept: application/vnd.pgrst.object+json
  rest-array    GET /rest/bench/bench_orders?id=eq.{id}               (a one-row array)

Each round runs `--requests` calls of every variant in turns of 200, the order rotating, so a
disturbance from elsewhere on the machine falls on all alike. The table gives the median
µs/request over the rounds, and Δ vs v2: the median over every turn of (the variant's turn -
v2's turn in the same round of turns), which cancels slow drifts. Before measuring, the row
`rest-object` answers must be the row `v2` answers (same JSON value).

`--stages N` adds, per PostgREST form, each stage of both paths timed alone on one id (no
profiler): the request stage, parse + bind + compile (on /api/v2 the remembered key read,
gateway/key_reads.py), run_read (PostgreSQL's CPU left out) and the respond stage. Auth,
throttle, audit and metrics run the same code on both paths and are left out. `--profile`
adds cProfile's listing of the gateway's own functions for one variant.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.auth_overhead import WsgiApp, call  # noqa: E402
from bench.inprocess import (  # noqa: E402
    TURN,
    Workload,
    gateway_in_process,
    profile,
    run_turn,
)
from bench.run import SERVICE, TABLE_URL  # noqa: E402

REST_URL = f"/rest/{SERVICE}/{fixture.TABLE}"
OBJECT = "application/vnd.pgrst.object+json"


@dataclass(frozen=True)
class Variant(Workload):
    """A workload with headers of its own (the Accept header of the PostgREST forms)."""

    headers: dict[str, str] = field(default_factory=dict)

    def environ(self, n: int, headers: dict[str, str]) -> dict[str, Any]:
        return super().environ(n, {**headers, **self.headers})


VARIANTS = {
    v.key: v
    for v in (
        Variant("v2", "/api/v2 by key", "GET", f"{TABLE_URL}/{{n}}"),
        Variant("v2-filter", "/api/v2 ?filter=id=", "GET", TABLE_URL, "filter=id%3D{n}"),
        Variant(
            "rest-object",
            "/rest ?id=eq. one object",
            "GET",
            REST_URL,
            "id=eq.{n}",
            headers={"Accept": OBJECT},
        ),
        Variant("rest-array", "/rest ?id=eq. array", "GET", REST_URL, "id=eq.{n}"),
    )
}


def check(app: WsgiApp, headers: dict[str, str]) -> None:
    """Every variant answers the same row (v2's object, or a one-row array of it)."""
    n = 123_457
    answers = {k: call(app, v.environ(n, headers)) for k, v in VARIANTS.items()}
    for key, (status, body) in answers.items():
        if status != 200:
            raise RuntimeError(f"{key}: status {status}: {body[:300]!r}")
    row = orjson.loads(answers["v2"][1])
    if orjson.loads(answers["rest-object"][1]) != row:
        raise RuntimeError(f"rest-object answers another row: {answers['rest-object'][1]!r}")
    for key in ("v2-filter", "rest-array"):
        got = orjson.loads(answers[key][1])
        rows = got["resource"] if isinstance(got, dict) else got
        if rows != [row]:
            raise RuntimeError(f"{key} answers other rows: {answers[key][1]!r}")


def measure(
    app: WsgiApp, variants: list[Variant], headers: dict[str, str], args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per round µs/request, and per turn µs/request (aligned across the variants)."""
    per_round: dict[str, list[float]] = {v.key: [] for v in variants}
    per_turn: dict[str, list[float]] = {v.key: [] for v in variants}
    for v in variants:  # warm-up: caches, prepared statements, pools
        run_turn(app, v, headers, 300)
    turns = max(1, args.requests // TURN)
    for r in range(args.rounds):
        spent = dict.fromkeys(per_round, 0.0)
        for turn in range(turns):
            shift = (turn + r) % len(variants)
            for v in variants[shift:] + variants[:shift]:
                seconds = run_turn(app, v, headers, TURN)
                spent[v.key] += seconds
                per_turn[v.key].append(seconds / TURN * 1e6)
        for key, seconds in spent.items():
            per_round[key].append(seconds / (turns * TURN) * 1e6)
        print(
            f"round {r + 1}/{args.rounds}: "
            + "  ".join(f"{k} {per_round[k][-1]:.0f}" for k in per_round)
            + " µs CPU/req",
            file=sys.stderr,
            flush=True,
        )
    return per_round, per_turn


def table(
    variants: list[Variant], per_round: dict[str, list[float]], per_turn: dict[str, list[float]]
) -> str:
    ref = statistics.median(per_round["v2"])
    out = [
        "| variant | request | CPU µs/req (median) | min | max | Δ vs v2 µs (paired) | Δ % |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants:
        values = per_round[v.key]
        accept = f" (Accept: {v.headers['Accept']})" if v.headers else ""
        request = f"`GET {v.path}{'?' if v.query else ''}{v.query}`{accept}".replace("{n}", "{id}")
        delta = statistics.median(
            x - y for x, y in zip(per_turn[v.key], per_turn["v2"], strict=True)
        )
        shown = ("", "") if v.key == "v2" else (f"{delta:+.1f}", f"{delta / ref * 100:+.1f} %")
        out.append(
            f"| {v.key} | {request} | {statistics.median(values):.1f} | {min(values):.1f} "
            f"| {max(values):.1f} | {shown[0]} | {shown[1]} |"
        )
    return "\n".join(out)


def _cpu_us(run: Any, repeat: int) -> float:
    """CPU µs per call of `run()` over `repeat` calls."""
    started = time.process_time()
    for _ in range(repeat):
        run()
    return (time.process_time() - started) / repeat * 1e6


def stage_costs(headers: dict[str, str], repeat: int) -> str:
    """Each stage of both dialects alone, on one id (no profiler): where /rest/ spends more.
    Auth, throttle, audit and metrics are the same code on both paths and left out."""
    from core.environ_request import EnvironRequest
    from core.request import read_request
    from gateway import key_reads
    from gateway.postgrest.request import read_pgrst
    from gateway.postgrest.respond import respond_read
    from gateway.respond import respond
    from rbac.policy import FULL_ACCESS
    from services.execution.tables import run_read
    from services.plan.bind import bind_plan
    from services.plan.pgrst_parse import parse_pgrst_read
    from services.plan.types import BoundRead
    from services.registry import registry
    from services.sql.plan import compile_plan

    n = 123_457
    live = registry.get(SERVICE)
    v2_request = EnvironRequest(VARIANTS["v2"].environ(n, headers))
    req = read_request(v2_request, SERVICE, f"_table/{fixture.TABLE}/{n}")
    recalled = key_reads.recall(req, live, FULL_ACCESS)
    if recalled is None:
        raise RuntimeError("the /api/v2 key read was not remembered (run a v2 request first)")
    v2_bound, v2_stmt = recalled[1], recalled[2]
    v2_result = run_read(live, v2_bound, v2_stmt)
    rows: list[tuple[str, float, float]] = []
    lines_out: list[str] = []

    def both(stage: str, rest_run: Any, v2_run: Any) -> None:
        """Medians over 7 alternating blocks (a disturbance falls on both sides alike)."""
        block = max(1, repeat // 7)
        rest_us, v2_us = [], []
        for _ in range(7):
            rest_us.append(_cpu_us(rest_run, block))
            v2_us.append(_cpu_us(v2_run, block) if v2_run else 0.0)
        rows.append((stage, statistics.median(rest_us), statistics.median(v2_us)))

    for key in ("rest-object", "rest-array"):
        request = EnvironRequest(VARIANTS[key].environ(n, headers))
        pgrst = read_pgrst(request, SERVICE, fixture.TABLE)
        plan = parse_pgrst_read(pgrst.query)
        bound = bind_plan(plan, live)
        stmt = compile_plan(bound)
        if not isinstance(bound, BoundRead) or stmt is None:
            raise RuntimeError(f"{key}: not a table read")
        result = run_read(live, bound, stmt)
        rows.clear()
        both(
            "1 request (read_pgrst / read_request)",
            lambda r=request: read_pgrst(r, SERVICE, fixture.TABLE),
            lambda: read_request(v2_request, SERVICE, f"_table/{fixture.TABLE}/{n}"),
        )
        both(
            "6-8 parse + bind + compile (/api/v2: key_reads.recall)",
            lambda q=pgrst.query: compile_plan(bind_plan(parse_pgrst_read(q), live)),
            lambda: key_reads.recall(req, live, FULL_ACCESS),
        )
        both("   6 parse_pgrst_read", lambda q=pgrst.query: parse_pgrst_read(q), None)
        both("   7 bind_plan", lambda p=plan: bind_plan(p, live), None)
        both("   8 compile_plan", lambda b=bound: compile_plan(b), None)
        both(
            "9 run_read (CPU only; page SQL / key SQL)",
            lambda b=bound, s=stmt: run_read(live, b, s),
            lambda: run_read(live, v2_bound, v2_stmt),
        )
        singular = pgrst.singular
        both(
            "10 respond (respond_read / respond)",
            lambda res=result, one=singular: respond_read(
                res, [], offset=0, counted=False, singular=one, extra_headers={}
            ),
            lambda: respond(v2_result, [], req, {}),
        )
        lines = [
            "",
            f"Stages alone, {key} vs v2, CPU µs per call (median of 7 alternating blocks of "
            f"{max(1, repeat // 7):,} calls, no profiler):",
            "",
            f"| stage | {key} | v2 | Δ |",
            "| --- | ---: | ---: | ---: |",
        ]
        for stage, rest_us, v2_us in rows:
            v2_cell = f"{v2_us:.1f}" if v2_us else ""
            delta = f"{rest_us - v2_us:+.1f}" if v2_us else ""
            lines.append(f"| {stage} | {rest_us:.1f} | {v2_cell} | {delta} |")
        lines_out.extend(lines)
    return "\n".join(lines_out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=3000, help="calls per variant and round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--profile", choices=list(VARIANTS), help="cProfile one variant")
    p.add_argument("--pstats", metavar="FILE", help="with --profile: also save the whole profile")
    p.add_argument(
        "--stages", type=int, metavar="N", default=0, help="also time each stage alone, N calls"
    )
    args = p.parse_args(argv)
    command = shlex.join(
        ["python", "bench/rest_overhead.py", *(sys.argv[1:] if argv is None else argv)]
    )
    with gateway_in_process("gateway-rest-overhead-") as (application, headers):
        check(application, headers)
        variants = list(VARIANTS.values())
        random.seed(20261207)
        load_before = os.getloadavg()[0]
        per_round, per_turn = measure(application, variants, headers, args)
        profiled = (
            profile(application, VARIANTS[args.profile], headers, 2000, args.pstats)
            if args.profile
            else ""
        )
        stages = stage_costs(headers, args.stages) if args.stages else ""
    print(
        f"command: `{command}`; Python {platform.python_version()}; {args.rounds} rounds x "
        f"{max(1, args.requests // TURN) * TURN} requests per variant; load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print()
    print(table(variants, per_round, per_turn))
    if stages:
        print(stages)
    if profiled:
        print()
        print(profiled)
    return 0


if __name__ == "__main__":
    sys.exit(main())
