"""Streaming memory benchmark: the gateway's RSS while it streams 10k, then 1M rows.

    python bench/stream_memory.py [--rows 1000000] [--small 10000] [--app gateway.wsgi:application]

Loads `gateway_bench_stream.stream_orders` (created and filled when absent or short), starts
the gateway under granian (1 worker, 1 blocking thread) with a throwaway SQLite metadata
database, logs in as an admin and streams `--small` rows, then `--rows` rows, as NDJSON and as
CSV, reading the body as a client would. A sampler reads the RSS of the server's processes
(granian's main process and its worker) every 20 ms; the report gives the peak during each
stream and how much the big stream adds over the small one (goal: < 50 MB). As a control, a
plain JSON page of `--json-control` rows is read last (the service's max_records is 100,000):
that response is built whole in memory, so the sampler shows what buffering would cost.

Connection settings: BENCH_PG_HOST/PORT/USER/PASSWORD (see bench/fixture.py).
`running_gateway()` is shared with bench/bulk_insert.py.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture  # noqa: E402
from bench.run import HOST, Server, free_port, gateway_env, send, wait_ready  # noqa: E402

DATABASE = "gateway_bench_stream"
TABLE = "stream_orders"
SERVICE = "streambench"
ADMIN_EMAIL = "stream-bench@example.com"
ADMIN_PASSWORD = "stream-bench-password-1"
TOKEN_HEADER = "X-DreamFactory-Session-Token"

_LOAD = f"""
INSERT INTO {TABLE} (customer_id, status, total, created_at, note)
SELECT (g * 7919) %% 10000 + 1,
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[g %% 5 + 1],
       ((g * 37) %% 100000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '31 seconds',
       'order note, "quoted" ' || md5(g::text)
FROM generate_series(1::bigint, %s) AS g
"""


# --- fixture and gateway -----------------------------------------------------------------------


def ensure_database(name: str) -> None:
    with fixture.connect("postgres") as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_rows(rows: int) -> None:
    """`stream_orders` holds exactly ids 1..rows (loaded once, about 5 s per million)."""
    ensure_database(DATABASE)
    with fixture.connect(DATABASE) as conn:
        fixture.create_orders_table(conn, TABLE)
        count, top = conn.execute(f"SELECT count(*), max(id) FROM {TABLE}").fetchone() or (0, 0)
        if count == rows and top == rows:
            print(f"fixture: {DATABASE}.{TABLE} already holds {rows:,} rows", flush=True)
            return
        print(f"fixture: loading {rows:,} rows into {DATABASE}.{TABLE} ...", flush=True)
        started = time.perf_counter()
        conn.execute(f"TRUNCATE {TABLE} RESTART IDENTITY")
        conn.execute(_LOAD, [rows])
        conn.execute(f"VACUUM (ANALYZE) {TABLE}")
        print(f"fixture: loaded in {time.perf_counter() - started:.1f} s", flush=True)


_SETUP = """
import json, sys
from rbac.models import User
from services.models import Service
cfg = json.loads(sys.stdin.read())
User.objects.create_superuser(cfg["email"], cfg["password"])
pg = cfg["pg"]
Service.objects.create(
    name=cfg["service"], host=pg["host"], port=pg["port"], database=cfg["database"],
    username=pg["user"], password=pg["password"], schema="public", sslmode="disable",
    max_records=100000, pool_min=1, pool_max=4,
)
"""


@dataclass
class Gateway:
    server: Server
    token: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {TOKEN_HEADER: self.token, **extra}


def granian_command(app: str, port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1"),
        *("--blocking-threads", "1", "--no-ws", "--host", HOST, "--port", str(port)),
        *("--log-level", "warning", app),
    ]


@contextlib.contextmanager
def running_gateway(
    database: str, app: str = "gateway.wsgi:application", env: dict[str, str] | None = None
) -> Iterator[Gateway]:
    """A gateway under granian with an admin and the service SERVICE on `database`."""
    workdir = Path(tempfile.mkdtemp(prefix="gateway-stream-bench-"))
    genv = {**gateway_env(workdir), **(env or {})}
    manage = [sys.executable, str(ROOT / "manage.py")]
    config = {
        "email": ADMIN_EMAIL,
        "password": ADMIN_PASSWORD,
        "service": SERVICE,
        "database": database,
        "pg": fixture.server_params(),
    }
    port = free_port()
    server = Server("gateway", granian_command(app, port), genv, workdir / "gateway.log", port)
    try:
        for step, stdin in (
            (["migrate", "--noinput", "-v0"], b""),
            (["shell", "-v0", "-c", _SETUP], json.dumps(config).encode()),
        ):
            done = subprocess.run(
                [*manage, *step], cwd=ROOT, env=genv, input=stdin, capture_output=True, check=False
            )
            if done.returncode:
                raise RuntimeError(f"gateway setup failed:\n{done.stderr.decode()}")
        server.start()
        wait_ready(server, "/health")
        status, data = send(
            port,
            "POST",
            "/api/v2/system/admin/session",
            json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        )
        if status != 200:
            raise RuntimeError(f"login failed: {status} {data}")
        yield Gateway(server, str(data["session_token"]))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- measuring ---------------------------------------------------------------------------------


class RssSampler:
    """The summed RSS of a process and its children, sampled in a thread; peak() since reset()."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self.rss())
            time.sleep(self.interval)

    def reset(self) -> None:
        self._peak = self.rss()

    def peak(self) -> int:
        return max(self._peak, self.rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class StreamRun:
    fmt: str
    rows: int
    lines: int
    bytes: int
    seconds: float
    first_byte_ms: float
    peak_rss: int


def stream_once(gw: Gateway, sampler: RssSampler, fmt: str, rows: int) -> StreamRun:
    """GET `rows` rows as `fmt` (json: the ordinary buffered page), read the body as it comes;
    the peak RSS meanwhile."""
    path = f"/api/v2/{SERVICE}/_table/{TABLE}?format={fmt}&order=id&limit={rows}"
    sampler.reset()
    conn = http.client.HTTPConnection(HOST, gw.server.port, timeout=600)
    started = time.perf_counter()
    try:
        conn.request("GET", path, headers=gw.headers())
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(
                f"{fmt} {rows}: {response.status} {response.read()[:300]!r}; log tail:\n"
                f"{gw.server.log_tail(8)}"
            )
        first = response.read1(65536)
        first_byte = time.perf_counter() - started
        size, lines = len(first), first.count(b"\n")
        kept = [first] if fmt == "json" else []
        while chunk := response.read1(1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
            if fmt == "json":
                kept.append(chunk)
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    if fmt == "json":
        lines = len(json.loads(b"".join(kept))["resource"])
    expected = rows + (1 if fmt == "csv" else 0)  # the CSV header line
    if lines != expected:
        raise RuntimeError(f"{fmt}: expected {expected:,} lines, got {lines:,}")
    return StreamRun(fmt, rows, lines, size, seconds, first_byte * 1000, sampler.peak())


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f}"


def report(runs: list[StreamRun], idle: int, command: str, app: str) -> str:
    lines = [
        f"Command: `{command}` (app `{app}`)",
        "",
        f"Server RSS at rest (after one warm-up request): {mb(idle)} MB",
        "",
        "| format | rows | body MB | seconds | rows/s | first byte ms | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in runs:
        lines.append(
            f"| {r.fmt} | {r.rows:,} | {mb(r.bytes)} | {r.seconds:.2f} | "
            f"{r.rows / r.seconds:,.0f} | {r.first_byte_ms:.1f} | {mb(r.peak_rss)} |"
        )
    lines.append("")
    for fmt in ("ndjson", "csv"):
        small, big = (r for r in runs if r.fmt == fmt)
        added = big.peak_rss - small.peak_rss
        verdict = "meets" if added < 50 * 1024 * 1024 else "MISSES"
        lines.append(
            f"- {fmt}: {big.rows:,} rows add {mb(added)} MB over {small.rows:,} rows "
            f"({verdict} the < 50 MB goal)"
        )
    control = [r for r in runs if r.fmt == "json"]
    if control:
        lines.append(
            f"- control, the ordinary JSON page (built whole in memory) of {control[0].rows:,} "
            f"rows: peak {mb(control[0].peak_rss - idle)} MB over the server at rest"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Peak server RSS while streaming 10k vs 1M rows.")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--app", default="gateway.wsgi:application", help="WSGI app for granian")
    p.add_argument(
        "--json-control",
        type=int,
        default=100_000,
        metavar="ROWS",
        help="also read a plain JSON page of ROWS rows, last (0: skip)",
    )
    args = p.parse_args(argv)
    command = " ".join(["python bench/stream_memory.py", *(sys.argv[1:] if argv is None else argv)])
    ensure_rows(args.rows)
    runs: list[StreamRun] = []
    with running_gateway(DATABASE, args.app) as gw:
        assert gw.server.process is not None
        with RssSampler(gw.server.process.pid) as sampler:
            stream_once(gw, sampler, "ndjson", 100)  # warm-up: imports, pool, schema cache
            idle = sampler.rss()
            for fmt in ("ndjson", "csv"):
                for rows in (args.small, args.rows):
                    run = stream_once(gw, sampler, fmt, rows)
                    print(
                        f"{fmt:6} {rows:>9,} rows: {mb(run.bytes):>7} MB in {run.seconds:6.2f} s,"
                        f" first byte {run.first_byte_ms:6.1f} ms, peak RSS {mb(run.peak_rss)} MB",
                        flush=True,
                    )
                    runs.append(run)
            if args.json_control:
                run = stream_once(gw, sampler, "json", args.json_control)
                print(f"json   {run.rows:>9,} rows: peak RSS {mb(run.peak_rss)} MB", flush=True)
                runs.append(run)
    print()
    print(report(runs, idle, command, args.app))
    return 0


if __name__ == "__main__":
    sys.exit(main())
