"""Load generation and measurement: wrk (bench/wrk.lua) or a Python fallback, plus CPU accounting.

Besides throughput and latency, every measurement records the CPU time spent by the app
server's process group, by the PostgreSQL backends it uses, by the load generator (wrk, or
this process for the fallback) and, when given, by a cache server (Redis), and how busy the
rest of the machine was. CPU per request is much less sensitive than req/s to other work on a
shared machine, and "other load" shows when a figure was disturbed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Request:
    """One request shape; "{n}" in path is a random integer in 1..n_max per request."""

    method: str
    path: str
    n_max: int = 0
    body: str = ""

    def at(self, n: int) -> str:
        return self.path.replace("{n}", str(n))

    def body_at(self, n: int) -> str:
        return self.body.replace("{n}", str(n))


@dataclass
class Measure:
    """One or more load runs against one target, summed (latencies: median of the runs)."""

    requests: int
    seconds: float
    errors: int  # non-2xx/3xx answers + socket errors + timeouts
    p50_ms: float
    p99_ms: float
    app_cpu: float = 0.0  # CPU seconds of the app server's processes
    pg_cpu: float = 0.0  # CPU seconds of the PostgreSQL backends on the benchmark database
    other_cpu: float = 0.0  # CPU seconds of everything else (not measured below)
    loadgen_cpu: float = 0.0  # CPU seconds of the load generator (wrk, or this process)
    cache_cpu: float = 0.0  # CPU seconds of the cache server's processes (Redis), if metered

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def per_request_us(self, cpu: float) -> float:
        return cpu / self.requests * 1e6 if self.requests else 0.0

    @property
    def other_cores(self) -> float:
        return self.other_cpu / self.seconds if self.seconds else 0.0

    @staticmethod
    def combine(runs: list[Measure]) -> Measure:
        return Measure(
            requests=sum(r.requests for r in runs),
            seconds=sum(r.seconds for r in runs),
            errors=sum(r.errors for r in runs),
            p50_ms=statistics.median(r.p50_ms for r in runs),
            p99_ms=statistics.median(r.p99_ms for r in runs),
            app_cpu=sum(r.app_cpu for r in runs),
            pg_cpu=sum(r.pg_cpu for r in runs),
            other_cpu=sum(r.other_cpu for r in runs),
            loadgen_cpu=sum(r.loadgen_cpu for r in runs),
            cache_cpu=sum(r.cache_cpu for r in runs),
        )


@dataclass
class Summary:
    """Several slices of one target, each figure the median over the slices (errors: summed)."""

    slices: list[Measure]

    def _median(self, value: Callable[[Measure], float]) -> float:
        return statistics.median(value(m) for m in self.slices) if self.slices else 0.0

    @property
    def rps(self) -> float:
        return self._median(lambda m: m.rps)

    @property
    def requests(self) -> int:
        return sum(m.requests for m in self.slices)

    @property
    def errors(self) -> int:
        return sum(m.errors for m in self.slices)

    @property
    def p50_ms(self) -> float:
        return self._median(lambda m: m.p50_ms)

    @property
    def p99_ms(self) -> float:
        return self._median(lambda m: m.p99_ms)

    @property
    def app_us(self) -> float:
        return self._median(lambda m: m.per_request_us(m.app_cpu))

    @property
    def pg_us(self) -> float:
        return self._median(lambda m: m.per_request_us(m.pg_cpu))

    @property
    def loadgen_us(self) -> float:
        return self._median(lambda m: m.per_request_us(m.loadgen_cpu))

    @property
    def cache_us(self) -> float:
        return self._median(lambda m: m.per_request_us(m.cache_cpu))

    @property
    def other_cores(self) -> float:
        return self._median(lambda m: m.other_cores)

    @property
    def other_max(self) -> float:
        return max((m.other_cores for m in self.slices), default=0.0)


# --- CPU accounting ------------------------------------------------------------------------------


def _proc_stat(pid: int | str) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def _group_cpu(pgid: int) -> dict[int, float]:
    """CPU seconds of every live process in process group `pgid`."""
    usage: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(entry.name)
        if fields is not None and int(fields[2]) == pgid:
            usage[int(entry.name)] = _cpu_seconds(fields)
    return usage


def _pids_cpu(pids: Iterable[int]) -> dict[int, float]:
    usage: dict[int, float] = {}
    for pid in pids:
        fields = _proc_stat(pid)
        if fields is not None:
            usage[pid] = _cpu_seconds(fields)
    return usage


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores)."""
    with contextlib.suppress(OSError, ValueError):
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return (sum(values[:8]) - idle) / _TICK
    return 0.0


def _loadgen_cpu() -> float:
    """CPU seconds of this process (the Python fallback) and its finished children (wrk)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots (a process born in between counts from zero)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


class CpuMeter:
    """Snapshots the CPU of one app server, of the PostgreSQL backends, of the load generator
    and (optionally) of a cache server around a run."""

    def __init__(
        self,
        server_pgid: int | None,
        pg_backends: Callable[[], list[int]],
        cache_pids: Callable[[], list[int]] | None = None,
    ) -> None:
        self.server_pgid = server_pgid
        self.pg_backends = pg_backends
        self.cache_pids = cache_pids

    def _snapshot(self) -> tuple[dict[int, float], dict[int, float], float, float]:
        app = _group_cpu(self.server_pgid) if self.server_pgid else {}
        return app, _pids_cpu(self.pg_backends()), _machine_busy(), _loadgen_cpu()

    def run(self, fn: Callable[[], Measure]) -> Measure:
        """Call fn (one load run) and fill in the CPU its measure cost."""
        cache_start = _pids_cpu(self.cache_pids()) if self.cache_pids else {}
        start = self._snapshot()
        m = fn()
        end = self._snapshot()
        cache_end = _pids_cpu(self.cache_pids()) if self.cache_pids else {}
        m.app_cpu = _delta(start[0], end[0])
        m.pg_cpu = _delta(start[1], end[1])
        m.loadgen_cpu = max(0.0, end[3] - start[3])
        m.cache_cpu = _delta(cache_start, cache_end)
        busy = max(0.0, end[2] - start[2])
        m.other_cpu = max(0.0, busy - m.app_cpu - m.pg_cpu - m.loadgen_cpu - m.cache_cpu)
        return m


# --- load generators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSettings:
    connections: int = 32
    threads: int = 2


def run_wrk(
    port: int, req: Request, headers: dict[str, str], seconds: float, settings: LoadSettings
) -> Measure:
    argv = ["wrk", "-t", str(settings.threads), "-c", str(settings.connections)]
    whole_seconds = max(1, round(seconds))  # wrk takes whole seconds
    argv += ["-d", f"{whole_seconds}s", "--timeout", "30s", "-s", str(WRK_SCRIPT)]
    argv += [f"http://{HOST}:{port}", "--", req.method, req.path, str(req.n_max), req.body]
    argv += [f"{k}: {v}" for k, v in headers.items()]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    try:
        return parse_wrk(out.stdout)
    except ValueError:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}") from None


def parse_wrk(stdout: str) -> Measure:
    """The Measure in bench/wrk.lua's WRK_JSON line (ValueError when there is none)."""
    for line in stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            kinds = ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
            return Measure(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=sum(data[k] for k in kinds),
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
            )
    raise ValueError("no WRK_JSON line")


def run_python(
    port: int, req: Request, headers: dict[str, str], seconds: float, settings: LoadSettings
) -> Measure:
    """Fallback when wrk is missing: one keep-alive client thread per connection. Less
    accurate: the generator needs far more CPU than wrk, taken from the servers."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    hdrs = {"Content-Type": "application/json", **headers}

    def client() -> None:
        nonlocal errors
        conn: http.client.HTTPConnection | None = None
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < deadline:
            n = random.randint(1, req.n_max) if req.n_max else 0
            path = req.at(n) if req.n_max else req.path
            body = (req.body_at(n) if req.n_max else req.body).encode() or None
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, port, timeout=30)
                conn.request(req.method, path, body=body, headers=hdrs)
                response = conn.getresponse()
                response.read()
                if not 200 <= response.status < 400:
                    bad += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                bad += 1
                conn = None
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(settings.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return Measure(len(latencies), elapsed, errors, pct(0.50), pct(0.99))


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def load(
    port: int,
    req: Request,
    headers: dict[str, str],
    seconds: float,
    settings: LoadSettings,
    meter: CpuMeter | None = None,
) -> Measure:
    """One load run of `seconds` (wrk when installed), with CPU accounting when metered."""
    runner = run_wrk if have_wrk() else run_python
    if meter is None:
        return runner(port, req, headers, seconds, settings)
    return meter.run(lambda: runner(port, req, headers, seconds, settings))
