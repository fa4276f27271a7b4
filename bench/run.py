"""Load benchmark: the gateway against a plain DRF baseline, side by side, in one run.

    python bench/run.py [--duration 10] [--connections 16] [--workloads W1 W2 W3 W4]
                        [--servers gunicorn granian] [--rounds 2] [--profile DIR]

Steps: load the fixture (bench/fixture.py); give the gateway a throwaway SQLite metadata
database with an admin user and the service `bench`; then, for each production server, start
the gateway and the DRF baseline (bench/baseline/) with the same server settings on free
ports, log in, check once per workload that both answer 2xx and the same rows, and drive each
workload at both with wrk (bench/wrk.lua): a warm-up per target, then `--duration` seconds per
target, measured in `--rounds` alternating slices (gateway, baseline, gateway, ...) so that
both targets see the same disturbances on a shared machine. Prints a Markdown table and writes
it to bench/results/latest.md. Every server is stopped at the end, even on failure.

Workloads (the same rows for both targets):
  W1  one row by primary key, random ids over the 1M rows
  W2  25 rows of a random customer, newest first (indexed filter + order)
  W3  1000 rows (the first 1000 by id)
  W4  one-row insert (rows get customer_id 10001, outside W2's range; deleted at the end)
  W5  call an SQL function: bench_order_status(p_id), one row's status by a random id
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture, profiling  # noqa: E402
from bench.loadgen import HOST, CpuMeter, LoadSettings, Measure, Request, have_wrk, load  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "latest.md"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-123"
SERVICE = "bench"
TABLE_URL = f"/api/v2/{SERVICE}/_table/{fixture.TABLE}"
TOKEN_HEADER = "X-DreamFactory-Session-Token"
INSERT_ROW = {
    "customer_id": fixture.CUSTOMERS + 1,
    "status": "new",
    "total": 12.5,
    "created_at": "2025-01-01T00:00:00Z",
    "note": "bench insert",
}


# --- workloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    gateway: Request
    baseline: Request
    check_n: int = 0  # the {n} used by the equivalence check


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload(
            "W1",
            "one row by id",
            Request("GET", f"{TABLE_URL}/{{n}}", fixture.ROWS),
            Request("GET", "/orders/{n}/", fixture.ROWS),
            check_n=123_457,
        ),
        Workload(
            "W2",
            "25 rows, filter + order",
            Request(
                "GET",
                f"{TABLE_URL}?filter=customer_id%3D{{n}}&order=created_at%20desc&limit=25",
                fixture.CUSTOMERS,
            ),
            Request("GET", "/orders/?customer_id={n}&limit=25", fixture.CUSTOMERS),
            check_n=4242,
        ),
        Workload(
            "W3",
            "1000 rows",
            Request("GET", f"{TABLE_URL}?order=id%20asc&limit=1000"),
            Request("GET", "/orders/?limit=1000"),
        ),
        Workload(
            "W4",
            "one-row insert",
            Request("POST", TABLE_URL, body=json.dumps({"resource": [INSERT_ROW]})),
            Request("POST", "/orders/", body=json.dumps(INSERT_ROW)),
        ),
        Workload(
            "W5",
            "call an SQL function",
            Request(
                "POST",
                f"/api/v2/{SERVICE}/_func/{fixture.FUNCTION}",
                fixture.ROWS,
                body='{"params": {"p_id": {n}}}',
            ),
            Request("POST", "/func/order_status/", fixture.ROWS, body='{"p_id": {n}}'),
            check_n=123_457,
        ),
    )
}


# --- servers -----------------------------------------------------------------------------------


@dataclass
class ServerKind:
    """A production WSGI server and how to start it."""

    name: str
    argv: list[str]  # with "{app}" and "{port}" placeholders

    def command(self, app: str, port: int | str) -> list[str]:
        return [a.replace("{app}", app).replace("{port}", str(port)) for a in self.argv]

    def describe(self, app: str) -> str:
        """The command line as text, with `python` for the interpreter's path."""
        argv = self.command(app, "PORT")
        return shlex.join(["python" if a == sys.executable else a for a in argv])


def server_kinds(args: argparse.Namespace) -> dict[str, ServerKind]:
    py = sys.executable
    return {
        "gunicorn": ServerKind(
            "gunicorn",
            [
                *(py, "-m", "gunicorn", "{app}", "--workers", str(args.gunicorn_workers)),
                *("--worker-class", "sync", "--bind", f"{HOST}:{{port}}"),
                *("--no-control-socket", "--log-level", "warning"),
            ],
        ),
        "granian": ServerKind(
            "granian",
            [
                *(py, "-m", "granian", "--interface", "wsgi"),
                *("--workers", str(args.granian_workers)),
                *("--blocking-threads", str(args.granian_threads), "--no-ws"),
                *("--host", HOST, "--port", "{port}", "--log-level", "warning", "{app}"),
            ],
        ),
    }


@dataclass
class Server:
    """One app server process group (master + workers), logging to a file."""

    label: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches the workers
            )

    def stop(self) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        # workers that outlived their master
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    try:
        for s in servers:
            s.start()
        yield
    finally:
        for s in servers:
            s.stop()


# --- HTTP helpers (checks only; the load comes from wrk) ---------------------------------------


def send(
    port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body.encode() or None, headers=hdrs)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw.decode(errors="replace")


def wait_ready(server: Server, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(f"{server.label} exited early:\n{server.log_tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = send(server.port, "GET", path)
            if status < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.label} not ready after {timeout:.0f} s:\n{server.log_tail()}")


# --- the gateway's metadata ----------------------------------------------------------------------

_SETUP_GATEWAY = f"""
from rbac.models import User
from services.models import Service
User.objects.create_superuser({ADMIN_EMAIL!r}, {ADMIN_PASSWORD!r})
pg = {fixture.server_params()!r}
Service.objects.create(
    name={SERVICE!r}, host=pg["host"], port=pg["port"], database={fixture.DATABASE!r},
    username=pg["user"], password=pg["password"], schema="public", sslmode="disable",
    max_records=1000, pool_min=4, pool_max=8,
)
"""


def gateway_env(workdir: Path) -> dict[str, str]:
    """The gateway's environment: a throwaway SQLite metadata database and, since several
    workers must share it (the gateway refuses the local-memory cache with more than one),
    the local Redis (db 13, a prefix of this run's own) unless CACHE_URL is given."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="gateway.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'metadata.sqlite3'}",
        LOG_LEVEL="WARNING",
        DEBUG="false",
    )
    if not env.get("CACHE_URL"):
        env["CACHE_URL"] = "redis://127.0.0.1:6379/13"
        env["CACHE_KEY_PREFIX"] = f"bench-{workdir.name}"
    return env


def baseline_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "bench.baseline.settings"
    return env


def setup_gateway(env: dict[str, str]) -> None:
    """Migrate the throwaway metadata database; create the admin user and the service."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        for step in (["migrate", "--noinput", "-v0"], ["shell", "-v0", "-c", _SETUP_GATEWAY]):
            subprocess.run([*manage, *step], cwd=ROOT, env=env, check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"gateway setup failed:\n{exc.stderr.decode()}") from None


def login(port: int) -> str:
    body = json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    status, data = send(port, "POST", "/api/v2/system/admin/session", body)
    if status != 200:
        raise RuntimeError(f"gateway login failed: {status} {data}")
    return str(data["session_token"])


# --- equivalence check ---------------------------------------------------------------------------


def _normal(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as comparable values (the targets format numbers and times differently)."""
    created = datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00"))
    total = Decimal(str(row["total"])).quantize(Decimal("0.01"))
    return (row["id"], row["customer_id"], row["status"], total, created, row["note"])


def check_equivalent(workload: Workload, gw_port: int, bl_port: int, token: str) -> str:
    """Both targets answer 2xx and the same rows; returns a one-line summary."""
    gw_req, bl_req = workload.gateway, workload.baseline
    n = workload.check_n
    gw_status, gw = send(
        gw_port, gw_req.method, gw_req.at(n), gw_req.body_at(n), {TOKEN_HEADER: token}
    )
    bl_status, bl = send(bl_port, bl_req.method, bl_req.at(n), bl_req.body_at(n))
    if not (200 <= gw_status < 300 and 200 <= bl_status < 300):
        raise RuntimeError(
            f"{workload.key}: gateway answered {gw_status} {str(gw)[:300]}, "
            f"baseline answered {bl_status} {str(bl)[:300]}"
        )
    if workload.key == "W4":
        gw_id, bl_id = gw["resource"][0]["id"], bl["id"]
        if not (gw_id > fixture.ROWS and bl_id > fixture.ROWS):
            raise RuntimeError(f"W4: unexpected inserted ids {gw_id}, {bl_id}")
        return f"both inserted a row (ids {gw_id}, {bl_id})"
    if workload.key == "W5":
        if gw != bl or not isinstance(gw, str):
            raise RuntimeError(f"W5: the targets disagree: gateway {gw!r}, baseline {bl!r}")
        return f"the same value ({gw!r})"
    gw_rows = [gw] if workload.key == "W1" else gw["resource"]
    bl_rows = [bl] if workload.key == "W1" else bl
    if [_normal(r) for r in gw_rows] != [_normal(r) for r in bl_rows]:
        raise RuntimeError(
            f"{workload.key}: the targets disagree: gateway ids "
            f"{[r['id'] for r in gw_rows][:10]}..., baseline ids {[r['id'] for r in bl_rows][:10]}"
        )
    ids = [r["id"] for r in gw_rows]
    shown = ", ".join(str(i) for i in ids[:3]) + (", ..." if len(ids) > 3 else "")
    return f"same {len(ids)} row(s) (ids {shown})"


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    workload: Workload
    server: str
    target: str
    measure: Measure
    ratio: float | None = None


@dataclass
class Target:
    name: str
    server: Server
    request: Request
    headers: dict[str, str]
    meter: CpuMeter


def pg_backends() -> list[int]:
    """PIDs of the PostgreSQL backends connected to the benchmark database."""
    with fixture.connect(fixture.DATABASE) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [fixture.DATABASE],
        ).fetchall()
    return [int(r[0]) for r in rows]


def measure_pair(
    gateway: Target, baseline: Target, args: argparse.Namespace
) -> tuple[Measure, Measure]:
    """Warm both up, then alternate `rounds` slices of duration/rounds seconds each."""
    settings = LoadSettings(connections=args.connections, threads=args.threads)
    targets = (gateway, baseline)
    if args.warmup > 0:
        for t in targets:
            load(t.server.port, t.request, t.headers, args.warmup, settings)
    runs: dict[str, list[Measure]] = {t.name: [] for t in targets}
    slice_seconds = args.duration / args.rounds
    for i in range(args.rounds):
        for t in targets if i % 2 == 0 else reversed(targets):
            m = load(t.server.port, t.request, t.headers, slice_seconds, settings, t.meter)
            runs[t.name].append(m)
    return Measure.combine(runs[gateway.name]), Measure.combine(runs[baseline.name])


def profile_gateway(gateway: Target, key: str, kind: str, args: argparse.Namespace) -> str:
    """One extra gateway run under py-spy; returns the Markdown summary."""
    assert gateway.server.process is not None
    settings = LoadSettings(connections=args.connections, threads=args.threads)
    args.profile.mkdir(parents=True, exist_ok=True)
    raw = args.profile / f"{kind}-{key}.txt"
    seconds = max(args.duration, 3.0)
    recorder = profiling.start_recording(gateway.server.process.pid, seconds, raw)
    m = load(gateway.server.port, gateway.request, gateway.headers, seconds + 1, settings)
    _, err = recorder.communicate(timeout=seconds + 60)
    if recorder.returncode != 0 or not raw.exists():
        return f"#### {kind} {key}\n\npy-spy failed: {err.decode(errors='replace')[-500:]}\n"
    title = f"{kind} {key} ({m.rps:,.0f} req/s while sampled; raw stacks: {raw})"
    return profiling.markdown(title, profiling.summarize(raw))


# --- report ----------------------------------------------------------------------------------


def machine_info() -> list[str]:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    with fixture.connect(fixture.DATABASE) as conn:
        pg = (conn.execute("SHOW server_version").fetchone() or ("?",))[0]
    loadgen = "Python fallback (wrk not installed)"
    if have_wrk():
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        loadgen = (out.stdout + out.stderr).split("[")[0].strip()
    return [
        f"- machine: {os.cpu_count()} x {cpu}, {mem} RAM; the load generator, the servers and "
        "PostgreSQL share it",
        f"- PostgreSQL {pg.split()[0]}, fixture {fixture.ROWS:,} rows; Python "
        f"{platform.python_version()}; load: {loadgen}",
    ]


def markdown_table(results: list[Result]) -> str:
    lines = [
        "| workload | server | target | req/s | p50 ms | p99 ms | errors "
        "| app CPU µs/req | PG CPU µs/req | other load | gateway/baseline |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        m = r.measure
        ratio = f"**{r.ratio:.2f}x**" if r.ratio is not None else ""
        lines.append(
            f"| {r.workload.key} {r.workload.title} | {r.server} | {r.target} | {m.rps:,.0f} "
            f"| {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.errors} "
            f"| {m.per_request_us(m.app_cpu):,.0f} | {m.per_request_us(m.pg_cpu):,.0f} "
            f"| {m.other_cores:.2f} | {ratio} |"
        )
    return "\n".join(lines)


@dataclass
class Report:
    command: str
    args: argparse.Namespace
    servers: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        a = self.args
        generator = (
            f"wrk -t{a.threads} -c{a.connections} (bench/wrk.lua)"
            if have_wrk()
            else f"Python load generator, {a.connections} connections"
        )
        load_line = (
            f"- {generator}: per workload and target {a.warmup:g} s warm-up, then "
            f"{a.duration:g} s measured in {a.rounds} alternating slices"
        )
        parts = [
            f"# Benchmark results ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            f"Command: `{self.command}`",
            "",
            *machine_info(),
            load_line,
            "",
            markdown_table(self.results),
            "",
            "req/s: all slices; p50/p99: median of the slices; errors: non-2xx answers + socket "
            "errors; app CPU: the server's processes per request; PG CPU: the PostgreSQL "
            "backends on gateway_bench per request; other load: cores busy with anything else "
            "(other users of the machine, PostgreSQL background work) during the measurement.",
            "",
            "Servers:",
            "",
            *(f"- `{cmd}`" for cmd in self.servers),
            "",
            "Checks before measuring:",
            "",
            *(f"- {c}" for c in self.checks),
            "",
        ]
        if self.profiles:
            parts += ["## Where the time goes (py-spy, gateway only)", "", *self.profiles]
        return "\n".join(parts)


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the gateway against a DRF baseline (see bench/README.md)."
    )
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per target")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per target")
    p.add_argument("--rounds", type=int, default=2, help="alternating slices of --duration")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument(
        "--servers", nargs="+", default=["gunicorn", "granian"], choices=["gunicorn", "granian"]
    )
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--granian-workers", type=int, default=4)
    p.add_argument("--granian-threads", type=int, default=1, help="granian blocking threads")
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after measuring, profile the gateway under each workload with py-spy into DIR",
    )
    p.add_argument("--output", type=Path, default=RESULTS, help="Markdown results file")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        p.error("--rounds must be >= 1 and --duration > 0")
    if args.profile and profiling.py_spy() is None:
        p.error("--profile needs py-spy (pip install py-spy)")
    return args


def bench_server(kind: ServerKind, workdir: Path, args: argparse.Namespace, report: Report) -> bool:
    """Run every workload on one server kind; False if the gateway answered any error."""
    gw_app, bl_app = "gateway.wsgi:application", "bench.baseline.wsgi:application"
    gw_port, bl_port = free_port(), free_port()
    gw = Server(
        f"gateway ({kind.name})",
        kind.command(gw_app, gw_port),
        gateway_env(workdir),
        workdir / f"gateway-{kind.name}.log",
        gw_port,
    )
    bl = Server(
        f"baseline ({kind.name})",
        kind.command(bl_app, bl_port),
        baseline_env(),
        workdir / f"baseline-{kind.name}.log",
        bl_port,
    )
    report.servers += [kind.describe(gw_app), kind.describe(bl_app)]
    ok = True
    with running([gw, bl]):
        wait_ready(gw, "/health")
        wait_ready(bl, "/orders/1/")
        assert gw.process is not None and bl.process is not None
        token = login(gw.port)
        json_header = {"Content-Type": "application/json"}
        for key in args.workloads:
            workload = WORKLOADS[key]
            summary = check_equivalent(workload, gw.port, bl.port, token)
            report.checks.append(f"{kind.name} {key}: {summary}")
            print(f"[{kind.name}] {key} check: {summary}", flush=True)
            gateway = Target(
                "gateway",
                gw,
                workload.gateway,
                {TOKEN_HEADER: token, **json_header},
                CpuMeter(gw.process.pid, pg_backends),
            )
            baseline = Target(
                "baseline",
                bl,
                workload.baseline,
                json_header,
                CpuMeter(bl.process.pid, pg_backends),
            )
            gm, bm = measure_pair(gateway, baseline, args)
            ratio = gm.rps / bm.rps if bm.rps else None
            report.results += [
                Result(workload, kind.name, "gateway", gm, ratio),
                Result(workload, kind.name, "baseline", bm),
            ]
            for name, m in (("gateway", gm), ("baseline", bm)):
                print(
                    f"[{kind.name}] {key} {name:8}: {m.rps:8,.0f} req/s  p50 {m.p50_ms:7.1f} ms"
                    f"  p99 {m.p99_ms:7.1f} ms  errors {m.errors}"
                    f"  app {m.per_request_us(m.app_cpu):6,.0f} µs/req"
                    f"  pg {m.per_request_us(m.pg_cpu):5,.0f} µs/req"
                    f"  other load {m.other_cores:.2f}",
                    flush=True,
                )
            if gm.errors:
                ok = False
                print(f"  the gateway answered errors; log tail:\n{gw.log_tail(10)}", flush=True)
        if args.profile:
            for key in args.workloads:
                target = Target(
                    "gateway",
                    gw,
                    WORKLOADS[key].gateway,
                    {TOKEN_HEADER: token, **json_header},
                    CpuMeter(None, list),
                )
                print(f"[{kind.name}] {key}: profiling the gateway with py-spy", flush=True)
                report.profiles.append(profile_gateway(target, key, kind.name, args))
    return ok


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    command = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"command: {command}", flush=True)
    if not have_wrk():
        print("wrk not found (apt-get install -y wrk): using the slower Python load generator")
    fixture.ensure_fixture()
    report = Report(command, args)
    kinds = server_kinds(args)
    ok = True
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        setup_gateway(gateway_env(workdir))
        for name in args.servers:
            ok = bench_server(kinds[name], workdir, args, report) and ok
    finally:
        with fixture.connect(fixture.DATABASE) as conn:
            fixture.remove_inserted_rows(conn)
        shutil.rmtree(workdir, ignore_errors=True)
    text = report.markdown()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print()
    print(text)
    print(f"written to {args.output}")
    if not ok:
        print("FAILED: the gateway answered errors during the run", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
