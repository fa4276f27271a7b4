"""Soak benchmark: the production gateway under a steady W1 load for minutes; errors and memory.

    python bench/soak.py [--minutes 10] [--fraction 0.8]

Starts the gateway as the Dockerfile runs it (granian WSGI, 4 workers x 1 blocking thread) with
the production extras on: GATEWAY_AUDIT=db, metrics in multiprocess mode (a fresh
PROMETHEUS_MULTIPROC_DIR), CACHE_URL on the local Redis with a run-unique CACHE_KEY_PREFIX
(its keys are deleted at the end); the data cache stays off (the service does not enable it).
The metadata database is a throwaway SQLite file, set up by bench.run.setup_gateway, and so is
the audit store (GATEWAY_AUDIT_DATABASE_URL: `audit.sqlite3` in the same temp dir, WAL mode; the
set-up's `migrate` migrates both).

Steps, all on W1 (one row of gateway_bench.bench_orders by a random id, bench/fixture.py),
authenticated with an admin session token, load from wrk (32 connections, 2 threads):

1. peak: 3 s warm-up, then 10 s flat out (bench/loadgen.py, bench/wrk.lua);
2. calibration: 5 s paced at `--fraction` of the peak (not reported as a slice);
3. soak: `--minutes` of consecutive 30 s wrk slices paced by a Lua `delay()` (bench/wrk.lua
   plus a per-connection delay, written to a temp file); between slices the delay is corrected
   in proportion to the per-connection cycle error, so the achieved rate stays near the target;
4. every 10 s (and at the start and end of the soak) the RSS of the granian process group
   (master + workers, /proc/<pid>/status VmRSS): the total and the largest worker.

Prints a Markdown report and writes it to bench/results/soak.md (git-ignored). Exits 1 if any
request failed (non-2xx, socket error, timeout) or the RSS (total or largest worker) grew more
than 10 % from the start of the soak to its end. The server is stopped (process group) even on
failure or Ctrl-C. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.loadgen import (  # noqa: E402
    HOST,
    WRK_SCRIPT,
    CpuMeter,
    LoadSettings,
    Measure,
    Request,
    have_wrk,
    load,
    parse_wrk,
)
from bench.run import (  # noqa: E402
    TABLE_URL,
    TOKEN_HEADER,
    Server,
    free_port,
    gateway_env,
    login,
    machine_info,
    pg_backends,
    running,
    send,
    server_kinds,
    setup_gateway,
    wait_ready,
)

RESULTS = ROOT / "bench" / "results" / "soak.md"
APP = "gateway.wsgi:application"
CACHE_URL = "redis://127.0.0.1:6379/13"
W1 = Request("GET", f"{TABLE_URL}/{{n}}", fixture.ROWS)
CHECK_ID = 123_457
LOAD = LoadSettings(connections=32, threads=2)
WARMUP_SECONDS = 3
PEAK_SECONDS = 10
CALIBRATE_SECONDS = 5
SLICE_SECONDS = 30
SAMPLE_SECONDS = 10.0
WRK_TIMEOUT = "10s"  # a request slower than this counts as a timeout (an error)
GAIN = 0.7  # share of the cycle-time error corrected between two slices
RSS_LIMIT_PERCENT = 10.0
RSS_TABLE_EVERY = 60.0  # seconds between the rows of the report's RSS table
_TICK = os.sysconf("SC_CLK_TCK")

PACED_LUA = """-- bench/soak.py: bench/wrk.lua plus a paced delay() (written at run time)
dofile({script})
local base_init = init
local delay_ms = 0
function init(args)
  delay_ms = tonumber(table.remove(args))  -- the last argument: the mean delay in ms
  base_init(args)
end
function delay()
  -- wrk takes whole ms: dither between floor and ceil so the mean is delay_ms
  return math.floor(delay_ms + math.random())
end
"""


# --- processes and memory ----------------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    """PIDs of the live processes in process group `pgid`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return sorted(pids)


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB (None if it is gone or is a kernel thread)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


@dataclass
class RssSample:
    """The RSS of the server's process group at one moment."""

    t: float  # seconds since the soak started
    master: int  # KiB
    workers: dict[int, int]  # pid -> KiB

    @property
    def total(self) -> int:
        return self.master + sum(self.workers.values())

    @property
    def worker_max(self) -> int:
        return max(self.workers.values(), default=0)


def sample_rss(master: int, t: float) -> RssSample:
    """One RSS sample of the master and every other process in its group."""
    workers: dict[int, int] = {}
    master_kib = 0
    for pid in group_pids(master):
        kib = rss_kib(pid)
        if kib is None:
            continue
        if pid == master:
            master_kib = kib
        else:
            workers[pid] = kib
    return RssSample(t, master_kib, workers)


class RssSampler:
    """A thread that samples the server's RSS every `interval` seconds, at most `limit` times."""

    def __init__(self, master: int, origin: float, interval: float, limit: int) -> None:
        self.master, self.origin, self.interval, self.limit = master, origin, interval, limit
        self.samples: list[RssSample] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def take(self) -> RssSample:
        """Take one sample now and keep it."""
        s = sample_rss(self.master, time.monotonic() - self.origin)
        with self._lock:
            self.samples.append(s)
        return s

    def _run(self) -> None:
        """Sample until stopped or `limit` samples were taken by this thread."""
        for _ in range(self.limit):
            if self._stop.wait(self.interval):
                return
            self.take()

    def start(self) -> None:
        """Start the sampling thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the sampling thread and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


# --- the server --------------------------------------------------------------------------------


def audit_file(workdir: Path) -> Path:
    """The throwaway SQLite audit store (GATEWAY_AUDIT_DATABASE_URL)."""
    return workdir / "audit.sqlite3"


def soak_env(workdir: Path, prefix: str) -> dict[str, str]:
    """bench.run's gateway environment plus the production extras (audit in its own SQLite
    file, metrics, Redis)."""
    prometheus = workdir / "prometheus"
    prometheus.mkdir()
    env = gateway_env(workdir)
    env.update(
        GATEWAY_AUDIT="db",
        GATEWAY_AUDIT_DATABASE_URL=f"sqlite:///{audit_file(workdir)}",
        GATEWAY_METRICS="true",
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
        CACHE_URL=CACHE_URL,
        CACHE_KEY_PREFIX=prefix,
    )
    return env


def granian_server(workdir: Path, env: dict[str, str]) -> tuple[Server, str]:
    """The gateway under granian as bench/run.py starts it (4 workers x 1 blocking thread)."""
    kinds = server_kinds(
        argparse.Namespace(granian_workers=4, granian_threads=1, gunicorn_workers=4)
    )
    kind = kinds["granian"]
    port = free_port()
    log_path = workdir / "gateway.log"
    server = Server("gateway (granian)", kind.command(APP, port), env, log_path, port)
    return server, kind.describe(APP)


def clear_prefix(prefix: str) -> int:
    """Delete this run's keys (and only those) from the Redis database; returns how many."""
    import redis

    client = redis.Redis.from_url(CACHE_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


def check_w1(port: int, headers: dict[str, str]) -> str:
    """One W1 request answers 200 with the row asked for."""
    status, body = send(port, "GET", W1.at(CHECK_ID), headers=headers)
    if status != 200 or not isinstance(body, dict) or body.get("id") != CHECK_ID:
        raise RuntimeError(f"W1 check failed: {status} {str(body)[:300]}")
    return f"GET {W1.at(CHECK_ID)} answered 200 with id {CHECK_ID}"


def metrics_requests(port: int) -> dict[str, float]:
    """gateway_requests_total of the service `bench` by status, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(raw.decode()):
        for s in family.samples:
            if s.name == "gateway_requests_total" and s.labels.get("service") == "bench":
                counts[s.labels["status"]] = counts.get(s.labels["status"], 0.0) + s.value
    return counts


def audit_rows(workdir: Path) -> int:
    """Rows in the audit table of the throwaway SQLite audit store."""
    conn = sqlite3.connect(audit_file(workdir), timeout=30)
    try:
        row = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()
        return int(row[0])
    finally:
        conn.close()


# --- paced load --------------------------------------------------------------------------------


def write_paced_script(workdir: Path) -> Path:
    """The pacing Lua script: bench/wrk.lua plus delay(), in the temp dir."""
    path = workdir / "wrk_paced.lua"
    path.write_text(PACED_LUA.format(script=json.dumps(str(WRK_SCRIPT))))
    return path


def run_paced(
    port: int, headers: dict[str, str], seconds: int, delay_ms: float, script: Path
) -> Measure:
    """One wrk run of `seconds` with a mean delay of `delay_ms` before each request."""
    argv = ["wrk", "-t", str(LOAD.threads), "-c", str(LOAD.connections), "-d", f"{seconds}s"]
    argv += ["--timeout", WRK_TIMEOUT, "-s", str(script), f"http://{HOST}:{port}"]
    argv += ["--", W1.method, W1.path, str(W1.n_max), W1.body]
    argv += [f"{k}: {v}" for k, v in headers.items()]
    argv.append(f"{delay_ms:.3f}")
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=seconds + 60)
    try:
        return parse_wrk(out.stdout)
    except ValueError:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}") from None


def next_delay(delay_ms: float, target_rps: float, achieved_rps: float, gain: float) -> float:
    """The delay corrected by `gain` times the per-connection cycle error (ms)."""
    if achieved_rps <= 0:
        return delay_ms
    cycle_target = LOAD.connections / target_rps * 1000
    cycle_achieved = LOAD.connections / achieved_rps * 1000
    corrected = delay_ms + gain * (cycle_target - cycle_achieved)
    return min(max(0.0, corrected), 2 * cycle_target)


@dataclass
class Slice:
    """One paced wrk run of the soak."""

    index: int
    started: float  # seconds since the soak started
    delay_ms: float
    measure: Measure
    steal: float = 0.0  # cores the hypervisor took from this VM during the slice


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Soak:
    """Everything the report needs."""

    command: str
    args: argparse.Namespace
    server_command: str = ""
    checks: list[str] = field(default_factory=list)
    peak: Measure | None = None
    target_rps: float = 0.0
    calibration: Slice | None = None
    slices: list[Slice] = field(default_factory=list)
    rss: list[RssSample] = field(default_factory=list)
    rss_start: RssSample | None = None
    rss_end: RssSample | None = None
    audit: str = ""
    metrics: str = ""
    log_tail: str = ""
    keys_deleted: int = 0

    @property
    def soak_errors(self) -> int:
        return sum(s.measure.errors for s in self.slices)

    @property
    def other_errors(self) -> int:
        """Errors in the peak measurement and the calibration."""
        peak = self.peak.errors if self.peak else 0
        return peak + (self.calibration.measure.errors if self.calibration else 0)

    def growth(self, attr: str) -> float:
        """Growth of an RSS figure ("total" or "worker_max") from start to end, in percent."""
        if self.rss_start is None or self.rss_end is None:
            return math.nan
        before, after = getattr(self.rss_start, attr), getattr(self.rss_end, attr)
        return (after - before) / before * 100 if before else math.nan

    @property
    def rss_flat(self) -> bool:
        return all(self.growth(a) <= RSS_LIMIT_PERCENT for a in ("total", "worker_max"))

    @property
    def ok(self) -> bool:
        return self.soak_errors + self.other_errors == 0 and self.rss_flat and bool(self.slices)


def log(message: str) -> None:
    """A progress line on stdout."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def measure_peak(server: Server, headers: dict[str, str], soak: Soak) -> None:
    """Warm up, then measure W1 flat out; sets the peak and the target rate."""
    assert server.process is not None
    load(server.port, W1, headers, WARMUP_SECONDS, LOAD)
    meter = CpuMeter(server.process.pid, pg_backends)
    soak.peak = load(server.port, W1, headers, PEAK_SECONDS, LOAD, meter)
    soak.target_rps = soak.peak.rps * soak.args.fraction
    log(
        f"peak {soak.peak.rps:,.0f} req/s (p50 {soak.peak.p50_ms:.1f} ms, "
        f"p99 {soak.peak.p99_ms:.1f} ms, errors {soak.peak.errors}, "
        f"other load {soak.peak.other_cores:.2f}); "
        f"target {soak.target_rps:,.0f} req/s"
    )
    if soak.peak.rps <= 0:
        raise RuntimeError("the peak measurement answered no requests")


def steal_seconds() -> float:
    """CPU seconds stolen from this VM by the hypervisor since boot (all cores)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path("/proc/stat").read_text().split("\n")[0].split()[8]) / _TICK
    return 0.0


def paced_slice(
    server: Server, headers: dict[str, str], seconds: int, delay_ms: float, script: Path
) -> tuple[Measure, float]:
    """One paced run with the server's and PostgreSQL's CPU accounted, and the steal (cores)."""
    assert server.process is not None
    meter = CpuMeter(server.process.pid, pg_backends)
    stolen = steal_seconds()
    m = meter.run(lambda: run_paced(server.port, headers, seconds, delay_ms, script))
    stolen = steal_seconds() - stolen
    return m, stolen / m.seconds if m.seconds else 0.0


def soak_slices(
    server: Server, headers: dict[str, str], script: Path, soak: Soak, origin: float
) -> None:
    """Consecutive paced slices for --minutes, correcting the delay between slices."""
    delay = LOAD.connections / soak.target_rps * 1000
    if soak.calibration is not None:  # the full correction: the calibration measured the latency
        cal = soak.calibration
        delay = next_delay(cal.delay_ms, soak.target_rps, cal.measure.rps, 1.0)
    count = max(1, round(soak.args.minutes * 60 / SLICE_SECONDS))
    deadline = origin + count * SLICE_SECONDS * 1.5 + 60  # a hard stop however slices behave
    for i in range(count):
        if time.monotonic() > deadline:
            log("time budget exhausted; stopping the soak early")
            break
        started = time.monotonic() - origin
        m, steal = paced_slice(server, headers, SLICE_SECONDS, delay, script)
        soak.slices.append(Slice(i + 1, started, delay, m, steal))
        log(
            f"slice {i + 1}/{count}: delay {delay:.2f} ms, {m.rps:,.0f} req/s "
            f"({m.rps / soak.target_rps * 100:.0f} % of target), p50 {m.p50_ms:.1f} ms, "
            f"p99 {m.p99_ms:.1f} ms, errors {m.errors}, app {m.per_request_us(m.app_cpu):.0f} "
            f"µs/req, pg {m.per_request_us(m.pg_cpu):.0f} µs/req, other load "
            f"{m.other_cores:.2f}, steal {steal:.2f}"
        )
        if m.errors:
            log(f"errors in slice {i + 1}; gateway log tail:\n{server.log_tail(20)}")
        delay = next_delay(delay, soak.target_rps, m.rps, GAIN)


def calibrate(server: Server, headers: dict[str, str], script: Path, soak: Soak) -> None:
    """A short paced run from the delay that ignores latency, to learn the latency."""
    delay = LOAD.connections / soak.target_rps * 1000
    m, steal = paced_slice(server, headers, CALIBRATE_SECONDS, delay, script)
    soak.calibration = Slice(0, 0.0, delay, m, steal)
    log(f"calibration: delay {delay:.2f} ms gave {m.rps:,.0f} req/s, errors {m.errors}")


def run_soak(workdir: Path, soak: Soak, prefix: str) -> None:
    """Set up, start the server, measure the peak, soak, sample RSS, collect the checks."""
    env = soak_env(workdir, prefix)
    log("setting up the throwaway metadata database and audit store")
    setup_gateway(env)
    server, soak.server_command = granian_server(workdir, env)
    script = write_paced_script(workdir)
    with running([server]):
        wait_ready(server, "/health")
        assert server.process is not None
        headers = {TOKEN_HEADER: login(server.port)}
        soak.checks.append(check_w1(server.port, headers))
        measure_peak(server, headers, soak)
        calibrate(server, headers, script, soak)
        origin = time.monotonic()
        limit = int(soak.args.minutes * 60 * 1.5 / SAMPLE_SECONDS) + 10
        sampler = RssSampler(server.process.pid, origin, SAMPLE_SECONDS, limit)
        soak.rss_start = sampler.take()
        start = soak.rss_start
        log(f"RSS at start: {mib(start.total)} total, {len(start.workers)} worker processes")
        sampler.start()
        try:
            soak_slices(server, headers, script, soak, origin)
        finally:
            sampler.stop()
            soak.rss_end = sampler.take()
            soak.rss = list(sampler.samples)
        counts = metrics_requests(server.port)
        soak.metrics = ", ".join(f"{k}: {v:,.0f}" for k, v in sorted(counts.items()))
    soak.log_tail = server.log_tail(20)
    sent = sum(s.measure.requests for s in soak.slices)
    sent += soak.peak.requests if soak.peak else 0
    sent += soak.calibration.measure.requests if soak.calibration else 0
    soak.audit = f"{audit_rows(workdir):,} audit rows for {sent:,} requests wrk counted (peak, "
    soak.audit += "calibration and slices; warm-up and the requests in flight at each stop add)"


# --- report ------------------------------------------------------------------------------------


def mib(kib: int) -> str:
    """KiB as MiB text."""
    return f"{kib / 1024:,.1f} MiB"


def spread(values: list[float], fmt: str) -> str:
    """min / median / max of values."""
    if not values:
        return "-"
    return " / ".join(format(v, fmt) for v in (min(values), statistics.median(values), max(values)))


def slice_table(soak: Soak) -> list[str]:
    """One row per paced slice."""
    lines = [
        "| slice | start s | delay ms | req/s | % of target | p50 ms | p99 ms | errors "
        "| app CPU µs/req | PG CPU µs/req | other load | steal |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in soak.slices:
        m = s.measure
        lines.append(
            f"| {s.index} | {s.started:.0f} | {s.delay_ms:.2f} | {m.rps:,.0f} "
            f"| {m.rps / soak.target_rps * 100:.1f} | {m.p50_ms:.2f} | {m.p99_ms:.2f} "
            f"| {m.errors} | {m.per_request_us(m.app_cpu):,.0f} "
            f"| {m.per_request_us(m.pg_cpu):,.0f} | {m.other_cores:.2f} | {s.steal:.2f} |"
        )
    return lines


def rss_table(soak: Soak) -> list[str]:
    """RSS samples, one row per RSS_TABLE_EVERY seconds plus the first and the last."""
    lines = [
        "| t s | total | master | largest worker | workers (pids) |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    shown: list[RssSample] = []
    for s in soak.rss[:-1]:
        if not shown or s.t >= shown[-1].t + RSS_TABLE_EVERY - 1:
            shown.append(s)
    if len(shown) > 1 and soak.rss[-1].t - shown[-1].t < SAMPLE_SECONDS / 2:
        shown.pop()  # the end sample follows within a few seconds
    shown += soak.rss[-1:]
    for s in shown:
        pids = ", ".join(str(p) for p in sorted(s.workers))
        lines.append(
            f"| {s.t:.0f} | {mib(s.total)} | {mib(s.master)} | {mib(s.worker_max)} "
            f"| {len(s.workers)} ({pids}) |"
        )
    return lines


def summary_lines(soak: Soak) -> list[str]:
    """The headline figures."""
    peak = soak.peak
    ms = [s.measure for s in soak.slices]
    total = sum(m.requests for m in ms)
    seconds = sum(m.seconds for m in ms)
    start, end = soak.rss_start, soak.rss_end
    near = sum(abs(m.rps / soak.target_rps - 1) <= 0.1 for m in ms)
    unpaced = sum(s.delay_ms < 0.005 for s in soak.slices)
    lines = [
        "| figure | value |",
        "| --- | --- |",
    ]
    if peak is not None:
        lines.append(
            f"| peak W1 req/s ({PEAK_SECONDS} s after {WARMUP_SECONDS} s warm-up) "
            f"| {peak.rps:,.0f} (p50 {peak.p50_ms:.1f} ms, p99 {peak.p99_ms:.1f} ms, "
            f"errors {peak.errors}, app CPU {peak.per_request_us(peak.app_cpu):,.0f} µs/req, "
            f"other load {peak.other_cores:.2f}) |"
        )
    lines += [
        f"| target req/s ({soak.args.fraction:.0%} of peak) | {soak.target_rps:,.0f} |",
        f"| slices | {len(ms)} x {SLICE_SECONDS} s |",
        f"| achieved req/s per slice, min / median / max | {spread([m.rps for m in ms], ',.0f')} |",
        f"| achieved req/s over the soak | {total / seconds if seconds else 0:,.0f} |",
        f"| pacing: slices within ±10 % of the target | {near} of {len(ms)} |",
        f"| slices with delay 0 (server could not keep up unpaced) | {unpaced} of {len(ms)} |",
        f"| total requests (soak slices) | {total:,} |",
        f"| errors (soak slices) | {soak.soak_errors} |",
        f"| errors (peak + calibration) | {soak.other_errors} |",
        f"| p50 ms per slice, min / median / max | {spread([m.p50_ms for m in ms], '.2f')} |",
        f"| p99 ms per slice, min / median / max | {spread([m.p99_ms for m in ms], '.2f')} |",
        "| app CPU µs/req per slice, min / median / max "
        f"| {spread([m.per_request_us(m.app_cpu) for m in ms], ',.0f')} |",
        "| PG CPU µs/req per slice, min / median / max "
        f"| {spread([m.per_request_us(m.pg_cpu) for m in ms], ',.0f')} |",
    ]
    if start is not None and end is not None:
        lines += [
            f"| RSS total, start (after warm-up) -> end | {mib(start.total)} -> {mib(end.total)} "
            f"({soak.growth('total'):+.1f} %) |",
            f"| RSS largest worker, start -> end | {mib(start.worker_max)} -> "
            f"{mib(end.worker_max)} ({soak.growth('worker_max'):+.1f} %) |",
            f"| RSS master, start -> end | {mib(start.master)} -> {mib(end.master)} |",
            f"| RSS total, max of the samples | {mib(max(s.total for s in soak.rss))} |",
        ]
    return lines


def markdown(soak: Soak) -> str:
    """The whole report."""
    errors = soak.soak_errors + soak.other_errors
    verdict = (
        f"**{errors} errors, RSS flat within {RSS_LIMIT_PERCENT:.0f} %: "
        f"{'yes' if soak.ok else 'no'}**"
    )
    parts = [
        f"# Soak: W1 at {soak.args.fraction:.0%} of peak for {soak.args.minutes:g} min "
        f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Command: `{soak.command}`",
        "",
        f"- nproc {os.cpu_count()}, Python {platform.python_version()}",
        *machine_info(),
        f"- server: `{soak.server_command}` with GATEWAY_AUDIT=db, GATEWAY_METRICS=true "
        f"(multiprocess, fresh PROMETHEUS_MULTIPROC_DIR), CACHE_URL={CACHE_URL} with a run-unique "
        "CACHE_KEY_PREFIX, data cache off, throwaway SQLite metadata database and audit store",
        f"- load: wrk -t{LOAD.threads} -c{LOAD.connections} --timeout {WRK_TIMEOUT}, W1 "
        f"`GET {W1.path}` (n random in 1..{W1.n_max:,}), admin session token; paced by a Lua "
        f"delay() per connection, corrected between slices (gain {GAIN})",
        "",
        verdict,
        "",
        *summary_lines(soak),
        "",
        "Errors: non-2xx answers + socket errors + timeouts. RSS: VmRSS of the granian process "
        "group (master + workers); flat means both the total and the largest worker grew at "
        f"most {RSS_LIMIT_PERCENT:.0f} % from the start of the soak to its end. CPU µs/req: "
        "the server's process group and the PostgreSQL backends on gateway_bench; other load: "
        "cores busy with anything else; steal: cores the hypervisor took from this VM.",
        "",
        "## Slices",
        "",
        *slice_table(soak),
        "",
        "## RSS",
        "",
        *rss_table(soak),
        "",
        "## Checks",
        "",
        *(f"- {c}" for c in soak.checks),
        f"- {soak.audit}",
        f"- /metrics gateway_requests_total for `bench` by status: {soak.metrics}",
        f"- Redis keys of this run's prefix deleted at the end: {soak.keys_deleted}",
        "",
    ]
    if soak.log_tail.strip():
        parts += ["Gateway log (last 20 lines):", "", "```", soak.log_tail, "```", ""]
    else:
        parts += ["Gateway log: empty (LOG_LEVEL=WARNING).", ""]
    return "\n".join(parts)


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Soak the gateway with paced W1 (bench/README.md).")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the paced soak")
    p.add_argument("--fraction", type=float, default=0.8, help="target as a share of the peak")
    p.add_argument("--output", type=Path, default=RESULTS, help="Markdown report file")
    args = p.parse_args(argv)
    if not 0 < args.minutes <= 240 or not 0 < args.fraction <= 1:
        p.error("--minutes must be in (0, 240] and --fraction in (0, 1]")
    return args


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """Turn SIGTERM into SystemExit so the finally blocks stop the server."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the soak, print and write the report; 0 if no errors and flat RSS."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    command = shlex.join(["python", "bench/soak.py", *(sys.argv[1:] if argv is None else argv)])
    log(f"command: {command}")
    if not have_wrk():
        print("soak.py needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    fixture.ensure_fixture()
    soak = Soak(command, args)
    prefix = f"gwsoak-{uuid.uuid4().hex[:12]}"
    workdir = Path(tempfile.mkdtemp(prefix="gateway-soak-"))
    try:
        run_soak(workdir, soak, prefix)
    finally:
        with contextlib.suppress(Exception):
            soak.keys_deleted = clear_prefix(prefix)
        shutil.rmtree(workdir, ignore_errors=True)
    text = markdown(soak)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print()
    print(text)
    print(f"written to {args.output}")
    if not soak.ok:
        print("FAILED: errors, or the RSS grew more than 10 %", file=sys.stderr)
    return 0 if soak.ok else 1


if __name__ == "__main__":
    sys.exit(main())
