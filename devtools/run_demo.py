"""`make run`: find (or embed) a PostgreSQL, load the demo database, migrate, ensure an admin and
the `demo` service, then serve with granian until Ctrl-C. Each step prints a `==>` line.

Dev tooling only: secrets it generates live in .data/ (git-ignored) and are never printed except
the demo admin's password. Stopping also stops the embedded PostgreSQL if this run started it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import environ
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devtools.postgres import LOCAL, find_server

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
DEMO_SQL = Path(__file__).with_name("demo.sql")
DEMO_DB = "gateway_demo"  # DEMO_DATABASE_NAME overrides it (the start-up test uses its own)
DEMO_TABLES = ("customers", "products", "orders", "order_items")
SERVICE_NAME = "demo"
ADMIN_EMAIL = "admin@example.com"
HEALTH_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5  # seconds for each PostgreSQL connection attempt: nothing hangs
STOP_TIMEOUT = 15.0


class DemoError(Exception):
    """A problem the user can fix; printed without a traceback."""


class ServerExited(DemoError):
    """The server process ended before it answered /health."""


def say(message: str = "") -> None:
    print(message, flush=True)


def stored_secret(env_var: str, filename: str, generate: Callable[[], str]) -> str:
    """The environment's value, else one generated once and kept in .data/<filename>."""
    given = os.environ.get(env_var)
    if given:
        return given
    path = DATA / filename
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = generate()
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(value + "\n")
    return value


ENV_FILE = ROOT / ".env"
ENV_HEADER = (
    "# Written by `make run`: the keys the demo server encrypts and signs with. Settings read\n"
    "# this file, so manage.py commands run beside the server use the same keys. Git-ignored.\n"
)


def demo_secrets() -> dict[str, str]:
    """SECRET_KEY and GATEWAY_ENCRYPTION_KEY for the demo server and every manage.py command.

    The environment wins, then the repository's .env (which gateway/settings.py reads too);
    a key found in neither is generated once (or taken from the .data/ file where earlier
    versions kept it, so stored passwords still decrypt) and appended to .env.
    """
    from cryptography.fernet import Fernet

    environ.Env.read_env(ENV_FILE, overwrite=False)  # what settings will see, environment first
    wanted = {
        "SECRET_KEY": ("demo-secret-key", lambda: secrets.token_urlsafe(50)),
        "GATEWAY_ENCRYPTION_KEY": ("demo-encryption-key", lambda: Fernet.generate_key().decode()),
    }
    values: dict[str, str] = {}
    added: list[str] = []
    for name, (legacy, generate) in wanted.items():
        value = os.environ.get(name, "")
        if not value:
            old = DATA / legacy
            value = old.read_text().strip() if old.exists() else ""
            value = value or generate()
            added.append(f"{name}={value}\n")
        values[name] = value
    if added:
        new_file = not ENV_FILE.exists()
        ENV_FILE.touch(mode=0o600, exist_ok=True)
        with ENV_FILE.open("a") as out:
            if new_file:
                out.write(ENV_HEADER)
            out.writelines(added)
        names = ", ".join(line.split("=", 1)[0] for line in added)
        say(f"==> wrote {names} to .env (git-ignored); manage.py commands read it too")
    return values


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"Port {port} on 127.0.0.1 is in use; stop what runs there or set PORT=..."
            ) from None


def demo_db() -> str:
    """The demo database's name: DEMO_DATABASE_NAME, else gateway_demo."""
    return os.environ.get("DEMO_DATABASE_NAME") or DEMO_DB


def describe_server(conninfo: str) -> str:
    """user@host:port/dbname of a libpq URL or conninfo, without its password."""
    params = conninfo_to_dict(conninfo)
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    user = str(params.get("user") or os.environ.get("PGUSER") or "")
    where = f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
    return f"{user}@{where}" if user else where


URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
NO_FALLBACK = (
    "\n       Start that server or correct the URL; or unset DEMO_DATABASE_URL to use "
    "127.0.0.1:5432 (user postgres), else an embedded PostgreSQL in .data/demo-pg."
)


def check_given_server() -> None:
    """A DEMO_DATABASE_URL that does not answer stops the run with what to do (no fallback:
    the demo never silently uses a server other than the one asked for)."""
    given = os.environ.get("DEMO_DATABASE_URL")
    if not given:
        return
    try:
        password = str(conninfo_to_dict(given).get("password") or "")
    except psycopg.Error as exc:
        # libpq quotes the whole URI in its message: hide a password in it
        reason = URL_PASSWORD.sub(r"\1***@", " ".join(str(exc).split()))
        raise DemoError(
            f"DEMO_DATABASE_URL is not a URL libpq can read ({reason}); expected "
            "postgresql://user:password@host:5432/dbname" + NO_FALLBACK
        ) from None
    try:
        psycopg.connect(given, connect_timeout=CONNECT_TIMEOUT, autocommit=True).close()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if password:
            reason = reason.replace(password, "***")
        raise DemoError(
            f"DEMO_DATABASE_URL ({describe_server(given)}) does not answer: {reason}" + NO_FALLBACK
        ) from None


def server_origin(server: str) -> str:
    """Which of find_server's three choices this is, for the progress line."""
    if server == os.environ.get("DEMO_DATABASE_URL"):
        return f"DEMO_DATABASE_URL ({describe_server(server)})"
    if server == LOCAL:
        return "127.0.0.1:5432 (user postgres)"
    return "the embedded PostgreSQL in .data/demo-pg"


def prepare_database(server: str) -> dict[str, Any]:
    """Create the demo database if missing, load demo.sql if its tables are absent; connection
    facts."""
    name = demo_db()
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if found.fetchone() is None:
                say(f"==> creating database {name}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        demo = make_conninfo(server, dbname=name)
        with psycopg.connect(demo, connect_timeout=CONNECT_TIMEOUT) as conn:
            present = [
                table
                for table in DEMO_TABLES
                if conn.execute("SELECT to_regclass(%s)", [f"public.{table}"]).fetchone() != (None,)
            ]
            conn.rollback()
            if not present:
                say(f"==> loading {DEMO_SQL.relative_to(ROOT)} into {name}")
                conn.execute(DEMO_SQL.read_text())  # one transaction: all or nothing
                conn.commit()
            elif len(present) < len(DEMO_TABLES):
                partial = ", ".join(present)
                say(f"!!  {name} has only some demo tables ({partial}); not loading demo.sql")
            else:
                say(f"==> database {name} already holds the demo tables")
            info = conn.info
            facts = {
                "host": info.host,
                "port": info.port,
                "user": info.user,
                "password": info.password or "",
            }
    except psycopg.Error as exc:
        raise DemoError(f"Cannot prepare the demo database: {exc}".strip()) from None
    params = conninfo_to_dict(demo)
    host = str(params.get("host") or facts["host"])
    facts.update(
        host=host,
        port=int(str(params.get("port") or facts["port"] or 5432)),
        user=str(params.get("user") or facts["user"] or ""),
        password=str(params.get("password") or facts["password"]),
        # pgserver listens on a unix socket (host is a directory): no TLS there
        sslmode="disable" if host.startswith("/") else str(params.get("sslmode") or "prefer"),
        database=name,
    )
    return facts


def migrate_metadata() -> None:
    """Set up Django; migrate the metadata DB and the audit store (the server refuses to start
    on pending migrations)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    say("==> loading the gateway's settings and apps (Django)")
    import django

    django.setup()
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # Django's config made it chatty
    from django.conf import settings
    from django.core.management import call_command

    db, audit = settings.DATABASES["default"], settings.DATABASES["audit"]
    say(
        f"==> migrating the metadata database ({db['ENGINE'].rsplit('.', 1)[-1]}: {db['NAME']}) "
        f"and the audit store ({audit['ENGINE'].rsplit('.', 1)[-1]}: {audit['NAME']})"
    )
    call_command("migrate", interactive=False, verbosity=1)  # both (audit's migrate command)


def ensure_admin_and_service(facts: dict[str, Any], admin_password: str) -> None:
    """Ensure the admin user and the `demo` service rows (Django ORM, after migrate_metadata)."""
    from django.core.exceptions import ValidationError
    from django.db import connections

    from rbac.models import User
    from services.models import Service

    user = User.objects.filter(email=ADMIN_EMAIL).first()
    if user is None:
        User.objects.create_superuser(ADMIN_EMAIL, admin_password)
        say(f"==> created admin {ADMIN_EMAIL}")
    else:
        changed = not user.check_password(admin_password)
        if changed:
            user.set_password(admin_password)
        for flag in ("is_active", "is_staff", "is_superuser"):
            if not getattr(user, flag):
                setattr(user, flag, True)
                changed = True
        if changed:
            user.save()
            say(f"==> updated admin {ADMIN_EMAIL}")

    # defer the password: an old row encrypted under another key must not stop the update
    service = Service.objects.defer("password").filter(name=SERVICE_NAME).first()
    if service is None:
        service = Service(name=SERVICE_NAME)
    service.label = "Demo shop"
    service.description = "Sample shop database loaded by `make run` (devtools/demo.sql)."
    service.host = facts["host"]
    service.port = facts["port"]
    service.database = facts["database"]
    service.username = facts["user"]
    service.password = facts["password"]
    service.schema = "public"
    service.sslmode = facts["sslmode"]
    service.is_active = True
    try:
        service.full_clean()
    except ValidationError as exc:
        raise DemoError(f"Cannot register the demo service: {exc.messages}") from None
    created = service.pk is None
    service.save()
    verb = "registered" if created else "updated"
    say(f"==> {verb} service '{SERVICE_NAME}' -> database {facts['database']}")
    connections.close_all()  # the server processes open their own


def server_command(port: int, workers: str) -> list[str]:
    """granian, the production server (bench/README.md: faster than gunicorn here)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        workers,
        "--blocking-threads",
        os.environ.get("WEB_THREADS") or "2",  # a slow query holds one thread, not the worker
        "--no-ws",
        "--log-level",
        "info",
        "gateway.wsgi:application",
    ]


def wait_healthy(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerExited(f"the server exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1)
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise DemoError(f"the server did not answer {url} within {HEALTH_TIMEOUT:.0f}s")


def try_it(base: str, password: str) -> str:
    """A ready-to-paste shell snippet: log in, then read the customers table."""
    body = json.dumps({"email": ADMIN_EMAIL, "password": password})
    extract = 'import json,sys; print(json.load(sys.stdin)["session_token"])'
    return (
        f"TOKEN=$(curl -s -X POST {base}/api/v2/system/admin/session "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)} "
        f"| python3 -c {shlex.quote(extract)})\n"
        f'curl -s -H "X-DreamFactory-Session-Token: $TOKEN" '
        f"{base}/api/v2/{SERVICE_NAME}/_table/customers"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Graceful stop (SIGTERM), then SIGKILL after STOP_TIMEOUT seconds."""
    if proc.poll() is not None:
        return
    say("==> stopping the server")
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class DemoServer:
    """The granian process of this run: started once or, after a refused early start, twice."""

    def __init__(self, port: int, workers: str, env: dict[str, str]) -> None:
        self.port, self.workers, self.env = port, workers, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, why: str = "") -> subprocess.Popen[bytes]:
        base = f"http://127.0.0.1:{self.port}"
        say(f"==> starting granian ({self.workers} worker(s)) on {base}{why}")
        # Its own process group: Ctrl-C reaches only us, and we stop the server in order.
        command = server_command(self.port, self.workers)
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, process_group=0)  # noqa: S603
        return self.proc

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


MIGRATED_STAMP = DATA / "migrated"  # fingerprints of the last few successful migrates
REMEMBERED = 8


def migrations_fingerprint() -> str:
    """What the last successful migrate ran against: the migration files and the two database
    URLs (hashed: a URL may hold a password)."""
    from importlib.metadata import version

    files = sorted(ROOT.glob("*/migrations/[0-9]*.py"))
    parts = [f"{path.relative_to(ROOT)}:{path.stat().st_size}" for path in files]
    parts += [
        version("Django"),
        os.environ.get("DATABASE_URL", ""),
        os.environ.get("GATEWAY_AUDIT_DATABASE_URL", ""),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def migrated_fingerprints() -> list[str]:
    try:
        return MIGRATED_STAMP.read_text().split()
    except OSError:
        return []


def remember_migrated(fingerprint: str) -> None:
    kept = [old for old in migrated_fingerprints() if old != fingerprint][-(REMEMBERED - 1) :]
    MIGRATED_STAMP.write_text("\n".join([*kept, fingerprint]) + "\n")


LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def shared_cache() -> str | None:
    """CACHE_URL for the workers: the environment's, else the local Redis when it answers.

    Without a shared cache each worker would keep its own data cache (a write through one would
    not invalidate another's reads) and its own limit counters, so the demo then runs one worker.
    """
    if os.environ.get("CACHE_URL"):
        return os.environ["CACHE_URL"]
    import redis

    try:
        redis.Redis.from_url(LOCAL_REDIS, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return LOCAL_REDIS


def banner(base: str, password: str, facts: dict[str, Any]) -> str:
    """The block printed once the server answers: where to go, how to log in, one curl."""
    where = f"{facts['host']}:{facts['port']}"
    return "\n".join(
        [
            "",
            f"==> ready: pg-gateway demo at {base}/",
            f"    admin console:  {base}/admin/",
            f"    admin login:    {ADMIN_EMAIL}  password: {password}",
            f"    API docs:       {base}/docs/  (after logging in to the admin console)",
            f"    demo service:   {base}/api/v2/{SERVICE_NAME}/ -> database "
            f"{facts['database']} on {where}",
            "",
            "Log in and read the customers table (paste into a shell):",
            "",
            try_it(base, password),
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
    )


def run() -> int:
    environ.Env.read_env(ENV_FILE, overwrite=False)  # as settings will: the environment wins
    port = int(os.environ.get("PORT") or 8000)
    workers = os.environ.get("WEB_CONCURRENCY") or "2"
    cache_url = shared_cache()
    if cache_url is None or cache_url.startswith("locmem"):
        if workers != "1":
            say(
                "note: no shared cache (no Redis at 127.0.0.1:6379, no redis CACHE_URL): one "
                "worker on the local-memory cache, since several would each keep their own "
                "data cache and rate-limit counters"
            )
        workers = "1"
    else:
        os.environ["CACHE_URL"] = cache_url
        os.environ.setdefault("CACHE_KEY_PREFIX", "pg-gateway-demo")
        say(f"==> cache: {cache_url.split('@')[-1]}, shared by {workers} workers")
    os.environ["WEB_CONCURRENCY"] = workers  # what the server's preflight is told
    check_port_free(port)
    DATA.mkdir(exist_ok=True)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # /metrics covers every worker
        metrics_dir = DATA / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)  # no counts carried over from a last run
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    keys = demo_secrets()
    os.environ.update(keys)  # before Django reads its settings
    password = stored_secret(
        "DEMO_ADMIN_PASSWORD", "demo-admin-password", lambda: secrets.token_urlsafe(12)
    )

    say("==> looking for PostgreSQL: DEMO_DATABASE_URL, else 127.0.0.1:5432, else embedded")
    check_given_server()
    with find_server("DEMO_DATABASE_URL", "demo-pg") as server:
        say(f"==> using {server_origin(server)}")
        facts = prepare_database(server)
        code = serve(DemoServer(port, workers, {**os.environ, **keys}), facts, password)
    say("==> stopped")
    return code


def serve(server: DemoServer, facts: dict[str, Any], password: str) -> int:
    """Migrate, ensure the admin and the service, serve until the server ends.

    When the last run migrated the same migrations, granian starts first, so its workers load
    while this process migrates (a no-op then); should a worker still find a migration
    missing, it refuses to start and starts again once migrate has run.
    """
    base = f"http://127.0.0.1:{server.port}"
    fingerprint = migrations_fingerprint()
    early = fingerprint in migrated_fingerprints()
    try:
        if early:
            server.start(" (the metadata was migrated by the last run)")
        migrate_metadata()
        remember_migrated(fingerprint)
        proc = server.proc or server.start()
        ensure_admin_and_service(facts, password)
        say(f"==> waiting for {base}/health")
        try:
            wait_healthy(proc, f"{base}/health")
        except ServerExited:
            if not early:
                raise
            proc = server.start(" again, now that the metadata is migrated")
            wait_healthy(proc, f"{base}/health")
        say(banner(base, password, facts))
        return proc.wait()
    finally:
        # no second interrupt may cut the shutdown (server, then embedded PostgreSQL) short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # explicit, also for SIGINT: a shell starting us in the background would have ignored it
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        return run()
    except KeyboardInterrupt:
        say("==> stopped")
        return 0
    except DemoError as exc:
        say(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
