"""What authentication and roles cost per data API request, measured in process.

    python bench/auth_overhead.py [--requests 2000] [--rounds 5] [--warmup 200] [--slice 200]
                                  [--auth-repeat 5] [--profile CALLER]

No HTTP server and no load generator: the production WSGI entry (`gateway.wsgi.application`)
is called directly with synthetic environs (built as tests/api/test_wsgi_entry.py does), so
what is left is the gateway's own Python work per request plus its waits on PostgreSQL. The
figure is CPU time of this process (`time.process_time`), which does not count those waits.

Setup, as bench/run.py does it: the fixture `gateway_bench.bench_orders` (bench/fixture.py),
a throwaway SQLite metadata database (`DATABASE_URL` in a temp dir, `manage.py migrate`) with
the admin user and the service `bench`; then, through the ORM in this process: role `reader`
(rule: service bench, `_table/*`, GET), role `owner` (rule: `_table/bench_orders/*`, GET, row
filter `customer_id >= 0`, which every row passes, so all callers read the same rows), an app
whose default role is `reader`, and a non-admin user whose role for that app is `owner`.

Callers, each sending one kind of credentials:
  (a) admin session token: roles are bypassed (the reference)
  (b) the app's API key alone: the app's default role `reader`
  (c) the user's session token + the app's key: role `owner`, with its row filter
  (d) an invalid API key alone (the real key's prefix, wrong tail: one HMAC, then 401)

Workloads (as bench/run.py's W1 and W2):
  W1  GET /api/v2/bench/_table/bench_orders/{random id}
  W2  GET /api/v2/bench/_table/bench_orders?filter=customer_id%3D{c}&order=created_at%20desc
      &limit=25, random customer

After a check (every caller answers the expected status; (b) and (c) the same body as (a)) and
a warm-up, each round measures `--requests` calls per caller and workload; the callers take
turns every `--slice` requests, in a rotating order, so that a disturbance from elsewhere on a
shared machine falls on all of them alike, and each reads its own random ids (so none reads
rows another one has just brought into PostgreSQL's cache; that matters for the wall times).

A second, PostgreSQL-free measurement times only the auth stages for each caller:
`rbac.policy.authenticate` + `require_credentials` + `gateway.pipeline.resolve_service` (pure
Python, in-process snapshots), and, for the caller whose role has one, binding its row filter
to the table (`rbac.row_filters.bind_for_table`).

Medians over the rounds are printed as a Markdown table. Δ vs (a) is paired: the median, over
every turn of every round, of the caller's µs/request in that turn minus (a)'s in the same
turn. `--profile c` adds a cProfile listing of the gateway's own functions for caller (c) on
W1 (profiler overhead inflates those figures; read them as shares).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import platform
import pstats
import random
import secrets
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.run import ADMIN_EMAIL, SERVICE, TABLE_URL, gateway_env, setup_gateway  # noqa: E402

USER_EMAIL = "bench-user@example.com"
USER_PASSWORD = "bench-user-password-123"
ROW_FILTER = [{"name": "customer_id", "operator": ">=", "value": "0"}]
OWN_CODE = ("gateway", "rbac", "apikeys", "services")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    path: str  # with {n}
    query: str  # with {n}
    n_max: int
    check_n: int

    def component(self, n: int) -> str:
        """The resource path the rules are matched against (as gateway/pipeline.py builds it)."""
        prefix = f"/api/v2/{SERVICE}/"
        return self.path.format(n=n).removeprefix(prefix).strip("/")


WORKLOADS = (
    Workload("W1", "one row by id", f"{TABLE_URL}/{{n}}", "", fixture.ROWS, 123_457),
    Workload(
        "W2",
        "25 rows, filter + order",
        TABLE_URL,
        "filter=customer_id%3D{n}&order=created_at%20desc&limit=25",
        fixture.CUSTOMERS,
        4242,
    ),
)


@dataclass(frozen=True)
class Caller:
    key: str
    title: str
    role: str
    headers: dict[str, str]
    expect: int  # the HTTP status every request must get


@dataclass
class Samples:
    """Per-round figures of one (workload, caller): µs per request."""

    cpu: list[float] = field(default_factory=list)
    turns: list[float] = field(default_factory=list)  # per slice, aligned across the callers
    wall: list[float] = field(default_factory=list)
    auth: list[float] = field(default_factory=list)
    row_filter: list[float] = field(default_factory=list)
    bad: int = 0  # answers with an unexpected status


# --- setup -------------------------------------------------------------------------------------


def setup_access() -> list[Caller]:
    """Roles, rules, app, user and tokens in the (already migrated) metadata DB."""
    from apikeys.api import new_key
    from apikeys.models import App
    from rbac.models import Role, RoleServiceAccess, User, UserAppRole
    from rbac.sessions import issue_token
    from services.models import Service

    service = Service.objects.get(name=SERVICE)
    reader = Role.objects.create(name="reader")
    RoleServiceAccess.objects.create(role=reader, service=service, component="_table/*")
    owner = Role.objects.create(name="owner")
    RoleServiceAccess.objects.create(
        role=owner,
        service=service,
        component=f"_table/{fixture.TABLE}/*",
        verb_mask=1,
        filters=ROW_FILTER,
    )
    app = App(name="bench-app", role=reader)
    api_key = new_key(app)
    app.save()
    user = User.objects.create_user(USER_EMAIL, USER_PASSWORD)
    UserAppRole.objects.create(user=user, app=app, role=owner)
    admin_token, _ = issue_token(User.objects.get(email=ADMIN_EMAIL), issuer="bench")
    user_token, _ = issue_token(user, issuer="bench")
    wrong_key = api_key[:8] + secrets.token_hex(28)
    token_header = "X-DreamFactory-Session-Token"
    key_header = "X-DreamFactory-API-Key"
    return [
        Caller("a", "admin session token", "(admin)", {token_header: admin_token}, 200),
        Caller("b", "app API key", "reader", {key_header: api_key}, 200),
        Caller(
            "c",
            "user token + app key",
            "owner + row filter",
            {token_header: user_token, key_header: api_key},
            200,
        ),
        Caller("d", "invalid API key", "(401)", {key_header: wrong_key}, 401),
    ]


# --- calling the WSGI entry ----------------------------------------------------------------------


def environ_for(path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "",
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def environs(workload: Workload, caller: Caller, ns: list[int]) -> list[dict[str, Any]]:
    return [
        environ_for(workload.path.format(n=n), workload.query.format(n=n), caller.headers)
        for n in ns
    ]


def call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, bytes]:
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]]) -> None:
        status.append(line)

    body = b"".join(app(environ, start_response))
    return int(status[0][:3]), body


def check(app: WsgiApp, callers: list[Caller]) -> list[str]:
    """Every caller gets its status; (b) and (c) read exactly what the admin reads."""
    lines = []
    for w in WORKLOADS:
        answers = {c.key: call(app, environs(w, c, [w.check_n])[0]) for c in callers}
        reference = answers["a"][1]
        for c in callers:
            status, body = answers[c.key]
            if status != c.expect:
                raise RuntimeError(f"{w.key} ({c.key}): status {status}, body {body[:300]!r}")
            if c.expect == 200 and body != reference:
                raise RuntimeError(f"{w.key} ({c.key}): a different body than the admin's")
        lines.append(
            f"{w.key}: statuses {', '.join(f'({c.key}) {answers[c.key][0]}' for c in callers)}; "
            f"(b), (c) read the admin's {len(reference):,} bytes"
        )
    return lines


# --- measuring -----------------------------------------------------------------------------------


def time_requests(
    app: WsgiApp, batch: list[dict[str, Any]], expect: int
) -> tuple[float, float, int]:
    """CPU and wall seconds spent on `batch`, and how many answers had another status."""
    gc.collect()  # every slice starts from the same garbage-collector state
    bad = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for environ in batch:
        status, _ = call(app, environ)
        if status != expect:
            bad += 1
    return time.process_time() - cpu0, time.perf_counter() - wall0, bad


def time_auth(workload: Workload, caller: Caller, ns: list[int], repeat: int) -> float:
    """CPU µs per call of the auth stages alone (authenticate + resolve_service): no PostgreSQL.

    The credentials are extracted once, as the pipeline does (gateway/credentials.py)."""
    from django.core.handlers.wsgi import WSGIRequest

    from core.credentials import extract_credentials
    from core.errors import GatewayError
    from gateway.pipeline import resolve_service
    from rbac.policy import authenticate, require_credentials

    creds = extract_credentials(WSGIRequest(environ_for(workload.path, "", caller.headers)))
    components = [workload.component(n) for n in ns]
    gc.collect()
    cpu0 = time.process_time()
    for _ in range(repeat):
        for component in components:
            try:
                principal = authenticate(creds)
                require_credentials(principal)
                resolve_service(principal, SERVICE, component, "GET")
            except GatewayError:
                pass
    return (time.process_time() - cpu0) / (repeat * len(components)) * 1e6


def time_row_filter(workload: Workload, caller: Caller, repeat: int) -> float | None:
    """CPU µs of binding the caller's row filter to the table (as the pipeline does per
    request: rbac.row_filters.bind_for_table); None when its grant has no row filter."""
    from django.core.handlers.wsgi import WSGIRequest

    from core.credentials import extract_credentials
    from core.errors import GatewayError
    from gateway.pipeline import resolve_service
    from rbac.policy import authenticate
    from rbac.row_filters import bind_for_table

    creds = extract_credentials(WSGIRequest(environ_for(workload.path, "", caller.headers)))
    try:
        live, grant = resolve_service(authenticate(creds), SERVICE, workload.component(1), "GET")
    except GatewayError:
        return None
    if grant.row_filter is None:
        return None
    table = live.schema().table(fixture.TABLE)
    gc.collect()
    cpu0 = time.process_time()
    for _ in range(repeat):
        bind_for_table(grant.row_filter, table)
    return (time.process_time() - cpu0) / repeat * 1e6


def measure(
    app: WsgiApp, callers: list[Caller], args: argparse.Namespace
) -> dict[tuple[str, str], Samples]:
    rng = random.Random(20261123)
    results = {(w.key, c.key): Samples() for w in WORKLOADS for c in callers}
    for w in WORKLOADS:  # warm-up: pool, schema cache, statement cache, snapshots
        for c in callers:
            ns = [rng.randint(1, w.n_max) for _ in range(args.warmup)]
            time_requests(app, environs(w, c, ns), c.expect)
            time_auth(w, c, ns[:50], 2)
    for r in range(args.rounds):
        for w in WORKLOADS:
            # each caller its own ids, so none reads rows another one just brought into cache
            ns = {c.key: [rng.randint(1, w.n_max) for _ in range(args.requests)] for c in callers}
            batches = {c.key: environs(w, c, ns[c.key]) for c in callers}
            totals = {c.key: [0.0, 0.0] for c in callers}
            # the callers take turns slice by slice (the order rotating), so a disturbance
            # from elsewhere on the machine falls on all of them alike
            for i, start in enumerate(range(0, args.requests, args.slice)):
                shift = (r + i) % len(callers)
                for c in callers[shift:] + callers[:shift]:
                    batch = batches[c.key][start : start + args.slice]
                    cpu, wall, bad = time_requests(app, batch, c.expect)
                    results[(w.key, c.key)].turns.append(cpu / len(batch) * 1e6)
                    totals[c.key][0] += cpu
                    totals[c.key][1] += wall
                    results[(w.key, c.key)].bad += bad
            for c in callers:
                s = results[(w.key, c.key)]
                s.cpu.append(totals[c.key][0] / args.requests * 1e6)
                s.wall.append(totals[c.key][1] / args.requests * 1e6)
                s.auth.append(time_auth(w, c, ns[c.key], args.auth_repeat))
                bind = time_row_filter(w, c, args.requests * args.auth_repeat)
                if bind is not None:
                    s.row_filter.append(bind)
        print(
            f"round {r + 1}/{args.rounds}: "
            + "  ".join(
                f"{w.key}({c.key}) {results[(w.key, c.key)].cpu[-1]:.0f}"
                for w in WORKLOADS
                for c in callers
            )
            + " µs CPU/req",
            file=sys.stderr,
            flush=True,
        )
    return results


def profile(app: WsgiApp, callers: list[Caller], key: str, requests: int) -> str:
    """cProfile of one caller on W1: the gateway's own functions by cumulative time."""
    caller = next(c for c in callers if c.key == key)
    w = WORKLOADS[0]
    rng = random.Random(7)
    batch = environs(w, caller, [rng.randint(1, w.n_max) for _ in range(requests)])
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for environ in batch:
        call(app, environ)
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = []
    entries: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_cc, calls, own, cumulative, _) in entries.items():
        path = Path(filename)
        if not path.is_relative_to(ROOT) or path.is_relative_to(ROOT / ".venv"):
            continue
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in OWN_CODE:
            continue
        rows.append((cumulative, own, calls, f"{rel}:{line} {name}"))
    rows.sort(reverse=True)
    out = [
        f"cProfile, caller ({key}) {caller.title}, W1, {requests:,} requests "
        "(CPU clock; profiler overhead included):",
        "",
        "| function | calls/req | cumulative µs/req | own µs/req |",
        "| --- | ---: | ---: | ---: |",
    ]
    for cumulative, own, calls, where in rows[:30]:
        out.append(
            f"| `{where}` | {calls / requests:.2f} | {cumulative / requests * 1e6:.1f} "
            f"| {own / requests * 1e6:.1f} |"
        )
    return "\n".join(out)


# --- report --------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def paired_delta(s: Samples, ref: Samples) -> float:
    """Median over the turns of (this caller's slice - the reference's slice in the same turn):
    slices next to each other in time share the machine's state, so this cancels drifts."""
    return statistics.median(x - y for x, y in zip(s.turns, ref.turns, strict=True))


def table(callers: list[Caller], results: dict[tuple[str, str], Samples]) -> str:
    out = [
        "| workload | caller | role | status | CPU µs/req | Δ vs (a) µs | Δ vs (a) % "
        "| CPU range | wall µs/req | auth+resolve µs | Δ auth vs (a) µs | row filter bind µs |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for w in WORKLOADS:
        ref = results[(w.key, "a")]
        ref_cpu, ref_auth = statistics.median(ref.cpu), statistics.median(ref.auth)
        for c in callers:
            s = results[(w.key, c.key)]
            cpu, auth = statistics.median(s.cpu), statistics.median(s.auth)
            paired = paired_delta(s, ref)
            delta = "" if c.key == "a" else f"{paired:+,.1f}"
            pct = "" if c.key == "a" else f"{paired / ref_cpu * 100:+.1f} %"
            auth_delta = "" if c.key == "a" else f"{auth - ref_auth:+,.1f}"
            bind = f"{statistics.median(s.row_filter):.1f}" if s.row_filter else ""
            out.append(
                f"| {w.key} {w.title} | ({c.key}) {c.title} | {c.role} | {c.expect} "
                f"| {cpu:,.1f} | {delta} | {pct} | {spread(s.cpu)} "
                f"| {statistics.median(s.wall):,.0f} | {auth:.1f} | {auth_delta} | {bind} |"
            )
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--requests", type=int, default=2000, help="requests per caller per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=200, help="warm-up requests per caller")
    p.add_argument("--slice", type=int, default=200, help="requests per caller per turn")
    p.add_argument(
        "--auth-repeat",
        type=int,
        default=5,
        help="the auth-only loop goes over the round's ids this many times",
    )
    p.add_argument("--profile", metavar="CALLER", choices="abcd", help="cProfile one caller, W1")
    args = p.parse_args(argv)
    if min(args.requests, args.rounds, args.slice, args.auth_repeat) < 1:
        p.error("--requests, --rounds, --slice and --auth-repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(
        ["python", "bench/auth_overhead.py", *(sys.argv[1:] if argv is None else argv)]
    )
    fixture.ensure_fixture(lambda line: print(line, file=sys.stderr))
    workdir = Path(tempfile.mkdtemp(prefix="gateway-auth-bench-"))
    registry = None
    try:
        env = gateway_env(workdir)
        setup_gateway(env)  # migrate, the admin user, the service `bench`
        os.environ.update(env)
        from gateway.wsgi import application  # sets Django up
        from services.registry import registry

        callers = setup_access()
        for line in check(application, callers):
            print(f"check {line}", file=sys.stderr)
        started, load_before = datetime.now(UTC), os.getloadavg()[0]
        results = measure(application, callers, args)
        profiled = (
            profile(application, callers, args.profile, args.requests) if args.profile else ""
        )
    finally:
        if registry is not None:
            registry.close_all()
        shutil.rmtree(workdir, ignore_errors=True)
    bad = sum(s.bad for s in results.values())
    print(f"command: `{command}`")
    print(
        f"{started:%Y-%m-%d %H:%M} UTC; {args.rounds} rounds x {args.requests:,} requests per "
        f"caller and workload (medians over rounds); Python {platform.python_version()}; "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print()
    print(table(callers, results))
    if profiled:
        print()
        print(profiled)
    if bad:
        print(f"FAILED: {bad} answers with an unexpected status", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
