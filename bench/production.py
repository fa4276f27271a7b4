"""Production features under load: what audit + rate limits + metrics cost, and what the data
cache buys (issue #6).

    python bench/production.py [--duration 10] [--rounds 2] [--connections 16]
                               [--workloads W1 W2 W1h W2h] [--warmup 2] [--no-breakdown]

Set-up, production-like: the fixture `gateway_bench.bench_orders` (bench/fixture.py, 1M rows);
metadata in PostgreSQL (database `gateway_bench_meta` on the same server, created when absent,
migrated every run, its objects re-created); the audit store in PostgreSQL too
(`GATEWAY_AUDIT_DATABASE_URL`: database `gateway_bench_audit` on the same server, created when
absent, migrated and emptied every run); the cache in Redis (`CACHE_URL` db 13 with a
`CACHE_KEY_PREFIX`; this prefix's keys are deleted first); `PROMETHEUS_MULTIPROC_DIR` a fresh
temp dir per server; `LOG_LEVEL=WARNING`. Two gateway servers run side by side, started as
bench/run.py starts granian (4 workers, `--blocking-threads 1`) and stopped by process group:

  lean  GATEWAY_AUDIT=off, GATEWAY_METRICS=false; serves the service `bench`, which no limit
        names
  full  GATEWAY_AUDIT=db (buffered, COPYed to gateway_bench_audit by each worker's flusher
        thread), GATEWAY_METRICS=true (multiprocess); serves the service `bench_full` (same
        database, same settings), which one active limit counts every call against (type
        instance.service, rate 1,000,000,000 per minute: never exceeded, but counted in Redis)

Every call carries an app's API key whose role reads `_table/*` on both services (admins are
exempt from limits; the key is what makes the limit count).

Comparisons, each on one server binary and settings but for the feature under test:
  W1, W2    lean vs full: W1 one row by a random id (1M), W2 25 rows of a random customer
            (filter + order), as in bench/run.py
  W1h, W2h  the full server's `bench_full` with cache_enabled (cache_ttl 300) vs the same
            service with cache_enabled false, on a hot set: W1h reads ids n*1000+437 for n in
            1..200, W2h customers n*10+3 for n in 1..50, so the warm-up fills the cache and
            nearly every measured call is a hit. The flag is switched through the system API
            (PATCH system/service) before a slice when needed; the script then waits for the
            metadata poll (GATEWAY_METADATA_POLL_SECONDS) and loads the target 1 s, unmeasured.

Before measuring, every target must answer 2xx with identical bodies (lean and full; cached and
uncached), full with the limit's `X-RateLimit-Limit`, a cached read `X-Cache: HIT` on its second
call. Each pair is then driven by wrk (bench/loadgen.py, bench/wrk.lua): a warm-up per target,
then `--duration` seconds per target in `--rounds` alternating slices. After each slice the
meter waits 1.3 s (the audit flush interval plus a margin) before its closing snapshot, so the
flusher's write of the slice's last events is counted; lean waits too.

CPU accounting as bench/loadgen.py's CpuMeter (the server's process group; the PostgreSQL
backends on gateway_bench, gateway_bench_meta and gateway_bench_audit), plus the CPU of backends
that exited during the slice (the postmaster's reaped-children time: short-lived connections,
such as a worker's first audit flush after its connection aged out, count there; so do other
sessions' short connections on the server). After W1/W2 the audit store is checked to hold
about one row per request sent to full; for W1h/W2h the hit ratio is read from /metrics
(gateway_cache_total) over the measured slices, and counted from `X-Cache` in a check pass.

Then, unless --no-breakdown, where the W1 overhead goes: a child process with the full server's
environment calls gateway.wsgi.application in process (as bench/auth_overhead.py does) with the
features switched on one at a time (audit via GATEWAY_AUDIT, metrics by its observer, the limit by
calling `bench_full`), paired turns, CPU per request; and times the Redis and observer operations
alone in a loop (about 30 s).

Prints a Markdown table and writes it to bench/results/production.md (git-ignored). Exits 1 if a
check failed or the gateway answered errors; servers are stopped even on failure.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.loadgen import HOST, CpuMeter, LoadSettings, Measure, Request, have_wrk, load  # noqa: E402
from bench.run import (  # noqa: E402
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    TOKEN_HEADER,
    Server,
    free_port,
    login,
    machine_info,
    running,
    server_kinds,
    wait_ready,
)

RESULTS = ROOT / "bench" / "results" / "production.md"
META_DATABASE = "gateway_bench_meta"
AUDIT_DATABASE = "gateway_bench_audit"  # GATEWAY_AUDIT_DATABASE_URL
CACHE_URL = "redis://127.0.0.1:6379/13"
CACHE_KEY_PREFIX = "gwbench-production"
LEAN_SERVICE = "bench"
FULL_SERVICE = "bench_full"
KEY_HEADER = "X-DreamFactory-API-Key"
LIMIT_RATE = 1_000_000_000
CACHE_TTL = 300
SETTLE_SECONDS = 1.3  # GATEWAY_AUDIT_FLUSH_SECONDS (1.0) plus a margin
POLL_WAIT_SECONDS = 1.3  # GATEWAY_METADATA_POLL_SECONDS (1.0) plus a margin
REWARM_SECONDS = 1.0  # unmeasured load after switching the cache flag
HIT_CHECK_REQUESTS = 200
TARGET_OVERHEAD = 10.0  # % of lean W1 req/s (issue #6)
TABLE_PATH = f"/api/v2/{{service}}/_table/{fixture.TABLE}"
W2_QUERY = "?filter=customer_id%3D{n}&order=created_at%20desc&limit=25"


# --- workloads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    path: str  # "{service}" and "{n}" (wrk: a random 1..n_max per request) placeholders
    n_max: int
    check_ns: tuple[int, ...]
    hot: bool  # a cache comparison (cached vs uncached) rather than lean vs full

    def request(self, service: str) -> Request:
        return Request("GET", self.path.replace("{service}", service), self.n_max)

    def url(self, service: str, n: int) -> str:
        return self.request(service).at(n)


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload(
            "W1", "one row by id", f"{TABLE_PATH}/{{n}}", fixture.ROWS, (123_457, 1, 999_999), False
        ),
        Workload(
            "W2",
            "25 rows, filter + order",
            TABLE_PATH + W2_QUERY,
            fixture.CUSTOMERS,
            (4242, 1, fixture.CUSTOMERS),
            False,
        ),
        Workload(
            "W1h", "one row by id, 200 hot ids", f"{TABLE_PATH}/{{n}}437", 200, (1, 200), True
        ),
        Workload(
            "W2h",
            "25 rows, 50 hot customers",
            TABLE_PATH + W2_QUERY.replace("{n}", "{n}3"),
            50,
            (1, 50),
            True,
        ),
    )
}


# --- set-up ------------------------------------------------------------------------------------

_SETUP = """
import json
from django.db import connections, router
from apikeys.api import new_key
from apikeys.models import App
from audit.models import AuditEvent
from limits.models import Limit
from rbac.models import Role, RoleServiceAccess, User
from services.models import Service

admin = User.objects.filter(email={admin!r}).first()
if admin is None:
    User.objects.create_superuser({admin!r}, {password!r})
else:
    admin.set_password({password!r})
    admin.is_active = admin.is_staff = admin.is_superuser = True
    admin.save()
pg = {pg!r}
services = {{}}
for name in {services!r}:
    service, _ = Service.objects.update_or_create(
        name=name,
        defaults=dict(
            host=pg["host"], port=pg["port"], database={database!r}, username=pg["user"],
            password=pg["password"], schema="public", sslmode="disable", max_records=1000,
            pool_min=4, pool_max=8, cache_enabled=False, cache_ttl={ttl}, is_active=True,
        ),
    )
    services[name] = service
role, _ = Role.objects.update_or_create(name="bench-reader", defaults=dict(is_active=True))
RoleServiceAccess.objects.filter(role=role).delete()
for service in services.values():
    RoleServiceAccess.objects.create(role=role, service=service, component="_table/*", verb_mask=1)
App.objects.filter(name="bench-app").delete()
app = App(name="bench-app", role=role)
key = new_key(app)
app.save()
Limit.objects.all().delete()
limit = Limit.objects.create(
    name="bench-every-call", type="instance.service", rate={rate}, period=0,
    service=services[{full!r}],
)
with connections[router.db_for_write(AuditEvent)].cursor() as cursor:  # the audit store
    cursor.execute(f"TRUNCATE {{AuditEvent._meta.db_table}}")
print("SETUP " + json.dumps(dict(
    api_key=key, limit_id=limit.id, services={{n: s.id for n, s in services.items()}},
)))
"""


def pg_url(database: str) -> str:
    """A postgres:// URL for `database` on the benchmark's server."""
    pg = fixture.server_params()
    auth = quote(pg["user"], safe="") + (
        ":" + quote(pg["password"], safe="") if pg["password"] else ""
    )
    return f"postgres://{auth}@{pg['host']}:{pg['port']}/{database}"


def ensure_databases() -> None:
    """Create the metadata database and the audit store when absent."""
    with fixture.connect("postgres") as admin:
        for database in (META_DATABASE, AUDIT_DATABASE):
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if exists.fetchone() is None:
                admin.execute(f'CREATE DATABASE "{database}"')


def server_env(workdir: Path, name: str, *, full: bool) -> dict[str, str]:
    prometheus = workdir / f"prometheus-{name}"
    shutil.rmtree(prometheus, ignore_errors=True)
    prometheus.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="gateway.settings",
        DATABASE_URL=pg_url(META_DATABASE),
        GATEWAY_AUDIT_DATABASE_URL=pg_url(AUDIT_DATABASE),
        CACHE_URL=CACHE_URL,
        CACHE_KEY_PREFIX=CACHE_KEY_PREFIX,
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
        LOG_LEVEL="WARNING",
        DEBUG="false",
        GATEWAY_AUDIT="db" if full else "off",
        GATEWAY_METRICS="true" if full else "false",
    )
    return env


def setup_metadata(env: dict[str, str]) -> dict[str, Any]:
    """Migrate gateway_bench_meta and gateway_bench_audit (`migrate` does both); (re)create the
    admin, services, role, app key and limit; empty the audit store."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    script = _SETUP.format(
        admin=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        pg=fixture.server_params(),
        services=[LEAN_SERVICE, FULL_SERVICE],
        database=fixture.DATABASE,
        ttl=CACHE_TTL,
        rate=LIMIT_RATE,
        full=FULL_SERVICE,
    )
    try:
        for step in (["migrate", "--noinput", "-v0"], ["shell", "-v0", "-c", script]):
            done = subprocess.run(
                [*manage, *step], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"metadata set-up failed:\n{exc.stderr}") from None
    line = next(x for x in done.stdout.splitlines() if x.startswith("SETUP "))
    return dict(json.loads(line.removeprefix("SETUP ")))


def clear_cache_prefix() -> int:
    """Delete this benchmark's keys (and only those) from Redis db 13."""
    import redis

    client = redis.Redis.from_url(CACHE_URL)
    keys = list(client.scan_iter(match=f"{CACHE_KEY_PREFIX}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    return len(keys)


# --- PostgreSQL CPU ------------------------------------------------------------------------------


class PgWatch:
    """One monitoring connection (its own backend is never counted): the backends on the three
    benchmark databases, the postmaster's pid, and the audit store's row count."""

    def __init__(self) -> None:
        self.conn = fixture.connect("postgres")
        self.audit = fixture.connect(AUDIT_DATABASE)
        row = self.conn.execute("SELECT pg_backend_pid()").fetchone()
        stat = _proc_fields(int(row[0])) if row else None
        self.postmaster: int | None = int(stat[1]) if stat else None  # our backend's parent

    def backends(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
            [[fixture.DATABASE, META_DATABASE, AUDIT_DATABASE]],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def audit_rows(self, service: str) -> int:
        row = self.audit.execute(
            "SELECT count(*) FROM audit_auditevent WHERE service = %s", [service]
        ).fetchone()
        return int(row[0]) if row else 0

    def sessions(self) -> int:
        """Connections ever opened to the audit store (pg_stat_database, PostgreSQL 14+)."""
        row = self.conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [AUDIT_DATABASE]
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.conn.close()
        self.audit.close()


def _proc_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (index 0: state, 1: ppid, 11-14: utime, stime,
    cutime, cstime)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _reaped_cpu(pid: int) -> float:
    """CPU seconds of the exited children `pid` has waited for (cutime + cstime)."""
    fields = _proc_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class Meter(CpuMeter):
    """CpuMeter, plus exited PostgreSQL backends, plus a settle wait inside the window (the
    audit flusher writes a slice's last events after the load stops)."""

    def __init__(self, server_pgid: int, watch: PgWatch, settle: float) -> None:
        super().__init__(server_pgid, watch.backends)
        self.postmaster = watch.postmaster
        self.settle = settle
        self.exited_cpu = 0.0  # of the PG CPU: backends that exited, over every run metered
        self.requests = 0

    def _exited(self) -> float:
        return _reaped_cpu(self.postmaster) if self.postmaster is not None else 0.0

    def _snapshot(self) -> tuple[dict[int, float], dict[int, float], float, float]:
        app, pg, busy, loadgen = super()._snapshot()
        pg[-1] = self._exited()  # a pseudo pid: loadgen's _delta() sums it like a backend
        return app, pg, busy, loadgen

    def run(self, fn: Callable[[], Measure]) -> Measure:
        started, exited = time.perf_counter(), self._exited()

        def settled() -> Measure:
            m = fn()
            time.sleep(self.settle)
            return m

        m = super().run(settled)
        window = time.perf_counter() - started
        if window > 0:  # "other load" per second of the whole window, settle included
            m.other_cpu *= m.seconds / window
        self.exited_cpu += max(0.0, self._exited() - exited)
        self.requests += m.requests
        return m

    @property
    def exited_us(self) -> float:
        return self.exited_cpu / self.requests * 1e6 if self.requests else 0.0


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(port: int, method: str, path: str, headers: dict[str, str], body: Any = None) -> Answer:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        hdrs = {**headers, **({"Content-Type": "application/json"} if payload else {})}
        conn.request(method, path, body=payload, headers=hdrs)
        response = conn.getresponse()
        raw = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, raw)
    finally:
        conn.close()


def cache_counts(port: int) -> dict[str, float]:
    """gateway_cache_total of FULL_SERVICE by result, from the full server's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    answer = fetch(port, "GET", "/metrics", {})
    if answer.status != 200:
        raise RuntimeError(f"/metrics answered {answer.status}")
    counts = {"hit": 0.0, "miss": 0.0, "bypass": 0.0}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            if sample.name == "gateway_cache_total" and sample.labels["service"] == FULL_SERVICE:
                counts[sample.labels["result"]] = sample.value
    return counts


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    server: Server
    service: str
    request: Request
    headers: dict[str, str]
    meter: Meter
    prepare: Callable[[], None] | None = None  # before each load run (the cache flag)
    count_cache: bool = False  # read gateway_cache_total around each measured slice
    sent: int = 0  # requests answered in warm-ups and slices (for the audit check)
    cache: dict[str, float] = field(default_factory=lambda: {"hit": 0.0, "miss": 0.0})


def alternate(targets: tuple[Target, Target], args: argparse.Namespace) -> dict[str, Measure]:
    """Warm each up, then `rounds` alternating slices of duration/rounds seconds each."""
    settings = LoadSettings(connections=args.connections, threads=args.threads)
    if args.warmup > 0:
        for t in targets:
            if t.prepare:
                t.prepare()
            t.sent += load(t.server.port, t.request, t.headers, args.warmup, settings).requests
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    slice_seconds = args.duration / args.rounds
    for i in range(args.rounds):
        for t in targets if i % 2 == 0 else reversed(targets):
            if t.prepare:
                t.prepare()
            before = cache_counts(t.server.port) if t.count_cache else {}
            m = load(t.server.port, t.request, t.headers, slice_seconds, settings, t.meter)
            if t.count_cache:
                after = cache_counts(t.server.port)
                for result in t.cache:
                    t.cache[result] += after[result] - before[result]
            t.sent += m.requests
            runs[t.name].append(m)
    return {name: Measure.combine(ms) for name, ms in runs.items()}


@dataclass
class Row:
    workload: Workload
    target: str
    measure: Measure
    exited_us: float  # of the PG CPU per request: backends that exited during the slices
    note: str = ""


@dataclass
class Comparison:
    workload: Workload
    base: Row  # lean / uncached
    other: Row  # full / cached


class Bench:
    """The two servers, the caller's key, the admin token; runs the checks and comparisons."""

    def __init__(self, args: argparse.Namespace, workdir: Path, setup: dict[str, Any]) -> None:
        self.args = args
        self.setup = setup
        self.watch = PgWatch()
        kind = server_kinds(args)["granian"]
        self.server_command = kind.describe("gateway.wsgi:application")
        self.servers: dict[str, Server] = {}
        for name, full in (("lean", False), ("full", True)):
            port = free_port()
            self.servers[name] = Server(
                f"gateway {name}",
                kind.command("gateway.wsgi:application", port),
                server_env(workdir, name, full=full),
                workdir / f"{name}.log",
                port,
            )
        self.key = {KEY_HEADER: str(setup["api_key"])}
        self.token = ""
        self.cache_on: bool | None = None
        self.checks: list[str] = []
        self.comparisons: list[Comparison] = []
        self.errors = 0

    # the cache flag of FULL_SERVICE, through the system API --------------------------------

    def set_cache(self, enabled: bool, rewarm: Target | None = None) -> None:
        if self.cache_on == enabled:
            return
        full = self.servers["full"]
        service_id = self.setup["services"][FULL_SERVICE]
        answer = fetch(
            full.port,
            "PATCH",
            f"/api/v2/system/service/{service_id}",
            {TOKEN_HEADER: self.token},
            {"config": {"cache_enabled": enabled, "cache_ttl": CACHE_TTL}},
        )
        if answer.status != 200:
            raise RuntimeError(f"switching the cache failed: {answer.status} {answer.body[:300]!r}")
        self.cache_on = enabled
        time.sleep(POLL_WAIT_SECONDS)  # every worker re-reads the services at its next call
        if rewarm is not None:
            settings = LoadSettings(connections=self.args.connections, threads=self.args.threads)
            load(full.port, rewarm.request, rewarm.headers, REWARM_SECONDS, settings)

    # checks -------------------------------------------------------------------------------

    def check_servers(self) -> None:
        lean, full = self.servers["lean"], self.servers["full"]
        lean_metrics = fetch(lean.port, "GET", "/metrics", {}).status
        full_metrics = fetch(full.port, "GET", "/metrics", {}).status
        if (lean_metrics, full_metrics) != (404, 200):
            raise RuntimeError(f"/metrics: lean {lean_metrics} (want 404), full {full_metrics}")
        self.checks.append("/metrics: lean 404 (GATEWAY_METRICS=false), full 200")

    def check_lean_full(self, w: Workload) -> None:
        lean, full = self.servers["lean"], self.servers["full"]
        sizes = []
        for n in w.check_ns:
            a = fetch(lean.port, "GET", w.url(LEAN_SERVICE, n), self.key)
            b = fetch(full.port, "GET", w.url(FULL_SERVICE, n), self.key)
            if not (200 <= a.status < 300 and 200 <= b.status < 300):
                raise RuntimeError(
                    f"{w.key} n={n}: lean {a.status} {a.body[:200]!r}, full {b.status} "
                    f"{b.body[:200]!r}"
                )
            if a.body != b.body:
                raise RuntimeError(f"{w.key} n={n}: lean and full answered different bodies")
            if b.headers.get("x-ratelimit-limit") != str(LIMIT_RATE):
                raise RuntimeError(f"{w.key}: full answered without the limit's headers")
            if "x-ratelimit-limit" in a.headers:
                raise RuntimeError(f"{w.key}: lean answered with X-RateLimit headers")
            sizes.append(len(a.body))
        self.checks.append(
            f"{w.key}: lean and full 200 with identical bodies for n in {list(w.check_ns)} "
            f"({', '.join(f'{s:,}' for s in sizes)} bytes); full carries "
            f"X-RateLimit-Limit: {LIMIT_RATE}, lean none"
        )

    def check_cached(self, w: Workload) -> None:
        full = self.servers["full"]
        self.set_cache(False)
        plain = {}
        for n in w.check_ns:
            a = fetch(full.port, "GET", w.url(FULL_SERVICE, n), self.key)
            if not 200 <= a.status < 300 or "x-cache" in a.headers:
                raise RuntimeError(f"{w.key} uncached n={n}: {a.status} {a.headers}")
            plain[n] = a.body
        self.set_cache(True)
        outcomes = []
        for n in w.check_ns:
            for _ in range(2):
                a = fetch(full.port, "GET", w.url(FULL_SERVICE, n), self.key)
                if not 200 <= a.status < 300 or a.body != plain[n]:
                    raise RuntimeError(
                        f"{w.key} cached n={n}: {a.status}, other body than uncached"
                    )
                outcomes.append(a.headers.get("x-cache", "-"))
            if outcomes[-1] != "HIT":
                raise RuntimeError(f"{w.key} n={n}: a repeated cached read was {outcomes[-1]}")
        self.checks.append(
            f"{w.key}: cached and uncached 200 with identical bodies for n in {list(w.check_ns)}; "
            f"cached X-Cache per call: {', '.join(outcomes)}"
        )

    def hit_pass(self, w: Workload) -> tuple[int, int]:
        """HIT_CHECK_REQUESTS sequential calls over the hot set: (hits, calls)."""
        full = self.servers["full"]
        rng = random.Random(6)
        hits = 0
        for _ in range(HIT_CHECK_REQUESTS):
            a = fetch(full.port, "GET", w.url(FULL_SERVICE, rng.randint(1, w.n_max)), self.key)
            if not 200 <= a.status < 300:
                raise RuntimeError(f"{w.key} hit check: {a.status} {a.body[:200]!r}")
            hits += a.headers.get("x-cache") == "HIT"
        return hits, HIT_CHECK_REQUESTS

    # comparisons ------------------------------------------------------------------------------

    def target(self, name: str, server: str, service: str, w: Workload) -> Target:
        s = self.servers[server]
        assert s.process is not None
        return Target(
            name,
            s,
            service,
            w.request(service),
            self.key,
            Meter(s.process.pid, self.watch, SETTLE_SECONDS),
        )

    def lean_vs_full(self, w: Workload) -> None:
        self.check_lean_full(w)
        lean = self.target("lean", "lean", LEAN_SERVICE, w)
        full = self.target("full", "full", FULL_SERVICE, w)
        audit_before, sessions_before = self.watch.audit_rows(FULL_SERVICE), self.watch.sessions()
        measures = alternate((lean, full), self.args)
        time.sleep(SETTLE_SECONDS)
        audited = self.watch.audit_rows(FULL_SERVICE) - audit_before
        sessions = self.watch.sessions() - sessions_before
        note = (
            f"audit rows written: {audited:,} for {full.sent:,} requests counted by wrk "
            f"({audited - full.sent:+,}; wrk does not count calls in flight when it stops); "
            f"{sessions:,} connections opened to {AUDIT_DATABASE} meanwhile (each worker's "
            "flusher keeps one, renewed after CONN_MAX_AGE)"
        )
        print(f"[{w.key}] {note}", flush=True)
        self.checks.append(f"{w.key}: {note}")
        if abs(audited - full.sent) > max(50, full.sent // 100):
            raise RuntimeError(f"{w.key}: the audit store did not get one row per request: {note}")
        self.record(
            w,
            Row(w, "lean", measures["lean"], lean.meter.exited_us),
            Row(w, "full", measures["full"], full.meter.exited_us),
        )

    def cached_vs_uncached(self, w: Workload) -> None:
        self.check_cached(w)
        uncached = self.target("uncached", "full", FULL_SERVICE, w)
        cached = self.target("cached", "full", FULL_SERVICE, w)
        cached.prepare = lambda: self.set_cache(True, rewarm=cached)
        uncached.prepare = lambda: self.set_cache(False, rewarm=uncached)
        cached.count_cache = uncached.count_cache = True
        # fill the cache, count X-Cache in a check pass; alternate() then warms each target up
        settings = LoadSettings(connections=self.args.connections, threads=self.args.threads)
        self.set_cache(True)
        load(cached.server.port, cached.request, cached.headers, self.args.warmup, settings)
        hits, calls = self.hit_pass(w)
        measures = alternate((cached, uncached), self.args)
        hit, miss = cached.cache["hit"], cached.cache["miss"]
        ratio = hit / (hit + miss) if hit + miss else 0.0
        if uncached.cache["hit"] or uncached.cache["miss"]:
            raise RuntimeError(f"{w.key}: the uncached slices went through the cache")
        self.checks.append(
            f"{w.key}: check pass after warm-up {hits}/{calls} X-Cache: HIT; measured slices "
            f"(/metrics gateway_cache_total) {hit:,.0f} hits, {miss:,.0f} misses"
        )
        self.record(
            w,
            Row(w, "uncached", measures["uncached"], uncached.meter.exited_us),
            Row(w, "cached", measures["cached"], cached.meter.exited_us, f"hits {ratio:.1%}"),
        )

    def record(self, w: Workload, base: Row, other: Row) -> None:
        self.comparisons.append(Comparison(w, base, other))
        for row in (base, other):
            m = row.measure
            self.errors += m.errors
            print(
                f"[{w.key}] {row.target:8}: {m.rps:8,.0f} req/s  p50 {m.p50_ms:6.1f} ms"
                f"  p99 {m.p99_ms:6.1f} ms  errors {m.errors}"
                f"  app {m.per_request_us(m.app_cpu):6,.0f} µs/req"
                f"  pg {m.per_request_us(m.pg_cpu):5,.0f} µs/req  other load {m.other_cores:.2f}",
                flush=True,
            )
            if m.errors:
                server = self.servers["lean" if row.target == "lean" else "full"]
                print(f"  errors; log tail:\n{server.log_tail(10)}", flush=True)

    def run(self) -> None:
        with running(list(self.servers.values())):
            for s in self.servers.values():
                wait_ready(s, "/health")
            self.token = login(self.servers["lean"].port)
            self.check_servers()
            for key in self.args.workloads:
                w = WORKLOADS[key]
                print(f"[{key}] {w.title}", flush=True)
                if w.hot:
                    self.cached_vs_uncached(w)
                else:
                    self.lean_vs_full(w)
            self.set_cache(False)

    def close(self) -> None:
        self.watch.close()


# --- in-process breakdown (a child process: Django set up from the full server's environment) ---

BREAKDOWN_FLAG = "--in-process-breakdown"  # internal: the child's entry


@dataclass(frozen=True)
class Variant:
    name: str
    service: str  # FULL_SERVICE: the limit counts the call
    audit: str  # GATEWAY_AUDIT
    metrics: bool  # the metrics observer registered


VARIANTS = (
    Variant("lean", LEAN_SERVICE, "off", False),
    Variant("+ audit (db)", LEAN_SERVICE, "db", False),
    Variant("+ metrics", LEAN_SERVICE, "off", True),
    Variant("+ limit", FULL_SERVICE, "off", False),
    Variant("full", FULL_SERVICE, "db", True),
)


def run_breakdown(workdir: Path, setup: dict[str, Any], args: argparse.Namespace) -> str:
    """Run the in-process breakdown in a child process; its Markdown (or why it failed)."""
    env = server_env(workdir, "breakdown", full=True)
    env["BENCH_API_KEY"] = str(setup["api_key"])
    argv = [sys.executable, str(Path(__file__).resolve()), BREAKDOWN_FLAG]
    argv += ["--breakdown-requests", str(args.breakdown_requests)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        return (
            f"In-process breakdown failed ({done.returncode}):\n\n```\n{done.stderr[-2000:]}\n```"
        )
    return done.stdout


def breakdown_main(requests: int) -> int:
    """The child: W1 through gateway.wsgi.application in this process, each variant's CPU per
    request (paired turns, as bench/auth_overhead.py), then single operations timed alone."""
    import statistics

    import django

    django.setup()  # settings from the environment: the full server's

    from django.core.cache import cache, caches
    from django.http import HttpResponse
    from django.test import override_settings

    from audit.recorder import recorder
    from bench.auth_overhead import call, environ_for, time_requests
    from core import context
    from core.context import RequestContext
    from gateway import metrics
    from gateway.wsgi import application
    from limits import counters
    from limits.rules import active

    headers = {KEY_HEADER: os.environ.pop("BENCH_API_KEY")}
    rng = random.Random(20261130)
    path = WORKLOADS["W1"].path
    observers = context._observers  # what the apps registered in ready(); metrics is toggled

    def environs(v: Variant, count: int) -> list[dict[str, Any]]:
        url = path.replace("{service}", v.service)
        return [
            environ_for(url.replace("{n}", str(rng.randint(1, fixture.ROWS))), "", headers)
            for _ in range(count)
        ]

    def switched(v: Variant) -> Any:
        if v.metrics and metrics.observe not in observers:
            observers.append(metrics.observe)
        if not v.metrics and metrics.observe in observers:
            observers.remove(metrics.observe)
        return override_settings(GATEWAY_AUDIT=v.audit)

    for v in VARIANTS:  # warm-up: pools, schema cache, key cache, limit snapshot
        with switched(v):
            for environ in environs(v, 300):
                status, body = call(application, environ)
                if status != 200:
                    print(f"{v.name}: {status} {body[:300]!r}", file=sys.stderr)
                    return 1
    rounds, per_turn = 3, 250
    turns: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    bad = 0
    for r in range(rounds):
        batches = {v.name: environs(v, requests) for v in VARIANTS}
        for i, start in enumerate(range(0, requests, per_turn)):
            shift = (r + i) % len(VARIANTS)
            for v in VARIANTS[shift:] + VARIANTS[:shift]:
                batch = batches[v.name][start : start + per_turn]
                with switched(v):
                    cpu, _wall, wrong = time_requests(application, batch, 200)
                turns[v.name].append(cpu / len(batch) * 1e6)
                bad += wrong
    recorder.flush()
    lean = turns["lean"]
    out = [
        f"In process, W1 through `gateway.wsgi.application` (no HTTP server, no load generator), "
        f"{rounds} rounds x {requests:,} requests per variant in turns of {per_turn}, CPU time of "
        "the process (the audit flusher thread included):",
        "",
        "| variant | CPU µs/req | Δ vs lean µs (paired median) |",
        "| --- | ---: | ---: |",
    ]
    for v in VARIANTS:
        delta = statistics.median(x - y for x, y in zip(turns[v.name], lean, strict=True))
        shown = "" if v.name == "lean" else f"{delta:+.1f}"
        out.append(f"| {v.name} | {statistics.median(turns[v.name]):.1f} | {shown} |")
    profiled = os.environ.get("BENCH_PROFILE")  # e.g. "+ limit": cProfile it, to stderr
    if profiled:
        import cProfile
        import pstats

        variant = next(v for v in VARIANTS if v.name == profiled)
        with switched(variant):
            batch = environs(variant, 5000)
            profile = cProfile.Profile()
            profile.runcall(time_requests, application, batch, 200)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(30)

    def per_call(fn: Callable[[], object], n: int = 3000) -> float:
        fn()
        cpu0 = time.process_time()
        for _ in range(n):
            fn()
        return (time.process_time() - cpu0) / n * 1e6

    backend: Any = caches["default"]
    client = backend._cache.get_client(write=True)
    rule = active()[0]
    probe = f"{CACHE_KEY_PREFIX}:probe"

    def pipeline() -> None:
        pipe = client.pipeline(transaction=False)
        pipe.incr(probe)
        pipe.expire(probe, 120, nx=True)
        pipe.execute()

    ctx = RequestContext("rid", "GET", "/api/v2/x", "127.0.0.1", verb="GET", service=FULL_SERVICE)
    ctx.status = 200
    answer = HttpResponse(status=200)
    with override_settings(GATEWAY_AUDIT="db"):
        audit_us = per_call(lambda: recorder.observe(ctx, answer))
    recorder.discard()
    operations = [
        (
            "`limits.counters.hit` (the limit's whole Redis work per call)",
            per_call(lambda: counters.hit([(rule, "")])),
        ),
        (
            "`RedisCacheClient.get_client` (a new `redis.Redis`: its `__init__` builds the "
            "response-callback table; `counters._redis` and every Django cache call pay it)",
            per_call(lambda: backend._cache.get_client(write=True)),
        ),
        ("INCR + EXPIRE NX pipeline on one reused redis-py client", per_call(pipeline)),
        (
            "`cache.get` through Django's Redis backend (a data cache lookup)",
            per_call(lambda: cache.get("probe")),
        ),
        (
            "`cache.get_many` of 3 keys (the data cache's generations)",
            per_call(lambda: cache.get_many(["g1", "g2", "g3"])),
        ),
        (
            "`gateway.metrics.observe` (multiprocess mode)",
            per_call(lambda: metrics.observe(ctx, answer)),
        ),
        ("`audit.recorder.observe` (a row into the buffer)", audit_us),
    ]
    out += [
        "",
        "Single operations, timed alone in a loop (CPU µs per call; Redis round trips included):",
        "",
        "| operation | CPU µs/call |",
        "| --- | ---: |",
        *(f"| {name} | {us:.1f} |" for name, us in operations),
    ]
    print("\n".join(out))
    if bad:
        print(f"{bad} answers were not 200", file=sys.stderr)
    return 1 if bad else 0


# --- report --------------------------------------------------------------------------------------


def pct(new: float, old: float) -> str:
    return f"{(new - old) / old * 100:+.1f} %" if old else ""


def table(comparisons: list[Comparison]) -> str:
    lines = [
        "| workload | target | req/s | p50 ms | p99 ms | errors | app CPU µs/req "
        "| PG CPU µs/req (exited backends) | other load | vs lean / uncached |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in comparisons:
        base = c.base.measure
        for row in (c.base, c.other):
            m = row.measure
            versus = ""
            if row is c.other:
                app = m.per_request_us(m.app_cpu) - base.per_request_us(base.app_cpu)
                pg = m.per_request_us(m.pg_cpu) - base.per_request_us(base.pg_cpu)
                if c.workload.hot:
                    versus = (
                        f"**{m.rps / base.rps:.2f}x** req/s, app CPU {app:+,.0f} µs, "
                        f"PG CPU {pg:+,.0f} µs; {row.note}"
                    )
                else:
                    versus = (
                        f"req/s **{pct(m.rps, base.rps)}**, app CPU {app:+,.0f} µs "
                        f"({pct(m.per_request_us(m.app_cpu), base.per_request_us(base.app_cpu))})"
                        f", PG CPU {pg:+,.0f} µs"
                    )
            lines.append(
                f"| {c.workload.key} {c.workload.title} | {row.target} | {m.rps:,.0f} "
                f"| {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.errors} "
                f"| {m.per_request_us(m.app_cpu):,.0f} | {m.per_request_us(m.pg_cpu):,.0f} "
                f"({row.exited_us:,.0f}) | {m.other_cores:.2f} | {versus} |"
            )
    return "\n".join(lines)


def verdict(comparisons: list[Comparison]) -> list[str]:
    out = []
    for c in comparisons:
        if c.workload.key != "W1":
            continue
        base, full = c.base.measure, c.other.measure
        loss = (base.rps - full.rps) / base.rps * 100 if base.rps else 0.0
        app = full.per_request_us(full.app_cpu) - base.per_request_us(base.app_cpu)
        share = app / base.per_request_us(base.app_cpu) * 100 if base.app_cpu else 0.0
        met = "within" if loss < TARGET_OVERHEAD else "OVER"
        out.append(
            f"- **W1 overhead of audit + limits + metrics: {loss:.1f} % of lean req/s** "
            f"({met} the {TARGET_OVERHEAD:.0f} % target); app CPU {app:+,.0f} µs/req "
            f"({share:+.1f} %)"
        )
    return out


def report(
    bench: Bench, command: str, started: datetime, loads: tuple[float, float], breakdown: str
) -> str:
    a = bench.args
    generator = (
        f"wrk -t{a.threads} -c{a.connections} (bench/wrk.lua)"
        if have_wrk()
        else f"Python load generator, {a.connections} connections"
    )
    return "\n".join(
        [
            "# Production features: data cache, audit + limits + metrics "
            f"({started:%Y-%m-%d %H:%M} UTC)",
            "",
            f"Command: `{command}`",
            "",
            *machine_info(),
            f"- {generator}: per workload and target {a.warmup:g} s warm-up, then "
            f"{a.duration:g} s measured in {a.rounds} alternating slices",
            f"- load average (1 min) {loads[0]:.2f} before, {loads[1]:.2f} after",
            f"- server (lean and full alike): `{bench.server_command}`",
            "",
            table(bench.comparisons),
            "",
            *verdict(bench.comparisons),
            "",
            "req/s: all slices; p50/p99: median of the slices; app CPU: the server's processes "
            "per request (the audit flusher thread included); PG CPU: backends on gateway_bench, "
            "gateway_bench_meta and gateway_bench_audit, plus (in brackets, included) backends of "
            "the whole server that exited during the slice, per request; other load: cores busy "
            "with anything else.",
            "",
            "Checks:",
            "",
            *(f"- {c}" for c in bench.checks),
            "",
            *(
                ["## Where the overhead goes (W1, in process)", "", breakdown, ""]
                if breakdown
                else []
            ),
        ]
    )


# --- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target")
    p.add_argument("--rounds", type=int, default=2, help="alternating slices of --duration")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--granian-workers", type=int, default=4)
    p.add_argument("--granian-threads", type=int, default=1, help="granian blocking threads")
    p.add_argument("--output", type=Path, default=RESULTS, help="Markdown results file")
    p.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip the in-process breakdown of the overhead (W1, about 30 s)",
    )
    p.add_argument(
        "--breakdown-requests", type=int, default=2500, help="per variant and round, in process"
    )
    p.set_defaults(gunicorn_workers=4)  # bench.run.server_kinds builds both kinds
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        p.error("--rounds must be >= 1 and --duration > 0")
    return args


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="gateway-production-bench-"))
    try:
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [BREAKDOWN_FLAG]:
        return breakdown_main(parse_args(argv[1:]).breakdown_requests)
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    command = shlex.join([".venv/bin/python", "bench/production.py", *argv])
    print(f"command: {command}", flush=True)
    fixture.ensure_fixture()
    ensure_databases()
    started, load_before = datetime.now(UTC), os.getloadavg()[0]
    print(f"load average before: {load_before:.2f}", flush=True)
    failure = ""
    with workspace() as workdir:
        setup = setup_metadata(server_env(workdir, "setup", full=True))
        print(f"redis: removed {clear_cache_prefix()} keys under {CACHE_KEY_PREFIX}:", flush=True)
        bench = Bench(args, workdir, setup)
        try:
            bench.run()
        except RuntimeError as exc:
            failure = str(exc)
            for s in bench.servers.values():
                print(f"--- {s.label} log tail:\n{s.log_tail(15)}", file=sys.stderr)
        finally:
            bench.close()
        load_after = os.getloadavg()[0]
        breakdown = ""
        if args.breakdown and not failure:
            print("in-process breakdown of the W1 overhead ...", flush=True)
            breakdown = run_breakdown(workdir, setup, args)
    text = report(bench, command, started, (load_before, load_after), breakdown)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print()
    print(text)
    print(f"written to {args.output}")
    if failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    if bench.errors:
        print(f"FAILED: the gateway answered {bench.errors} errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
