"""Concurrent system-API writes (issue #10): two gateway workers, 200 writes of users, roles,
apps and services mixed with reads, on the default SQLite metadata database and on
PostgreSQL, while the audit flusher writes too. Not one may fail.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.api.test_scale_out import database_url
from tests.conftest import REDIS_URL, drop_redis_prefix, redis_caches
from tests.servers import GatewayServer, granian_workers, manage

pytestmark = pytest.mark.slow

ADMIN = {"email": "meta@example.com", "password": "meta-password-1234"}
CREATE_ADMIN = (
    "from rbac.models import User; "
    f"User.objects.create_superuser('{ADMIN['email']}', '{ADMIN['password']}')"
)
WRITES = 200


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_env(
    request: pytest.FixtureRequest, pg_server: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    prefix = f"meta{uuid.uuid4().hex[:8]}"
    redis_caches(prefix)  # two workers share Redis (skips, or fails under CI, without one)
    env = {"CACHE_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
    name = f"gw_meta_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'metadata.sqlite3'}"
    else:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        env["DATABASE_URL"] = database_url(pg_server, name)
        # the audit store in tmp_path too, not the repo's .data/audit.sqlite3 (with a SQLite
        # metadata file it defaults to a file beside it)
        env["GATEWAY_AUDIT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    try:
        yield env
    finally:
        drop_redis_prefix(prefix)
        if request.param == "postgresql":
            with psycopg.connect(pg_server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _jobs() -> list[tuple[str, str, Any]]:
    """200 writes (a tenth of the users with a password, which is slow to hash) and reads."""
    tag = uuid.uuid4().hex[:6]
    jobs: list[tuple[str, str, Any]] = []
    for i in range(WRITES):
        kind = i % 4
        if kind == 0:
            user: dict[str, Any] = {"email": f"user{i}-{tag}@example.com", "first_name": "U"}
            if i % 40 == 0:
                user["password"] = f"a-long-password-{i}-{tag}"
            jobs.append(("POST", "/api/v2/system/user", {"resource": [user]}))
        elif kind == 1:
            jobs.append(("POST", "/api/v2/system/role", {"resource": [{"name": f"r{i}-{tag}"}]}))
        elif kind == 2:
            jobs.append(("POST", "/api/v2/system/app", {"resource": [{"name": f"a{i}-{tag}"}]}))
        else:
            config = {"host": "127.0.0.1", "port": 5432, "database": "nowhere"}
            service = {"name": f"s{i}_{tag}", "config": config}
            jobs.append(("POST", "/api/v2/system/service", {"resource": [service]}))
        if i % 2:
            read = ("/api/v2/system/user", "/api/v2/system/service")[i % 4 // 2]
            jobs.append(("GET", read, None))
    return jobs


def test_concurrent_system_writes_never_fail(metadata_env: dict[str, str], tmp_path: Path) -> None:
    env = {**metadata_env, "GATEWAY_AUDIT_FLUSH_SECONDS": "0.05", "GATEWAY_AUDIT_BATCH": "5"}
    settings = {**env, "DJANGO_SETTINGS_MODULE": "gateway.settings"}
    manage(settings, "migrate", "-v0")
    manage(settings, "shell", "-v0", "-c", CREATE_ADMIN)
    server = GatewayServer(env, tmp_path / "gateway.log", command=granian_workers(2)).start()
    try:
        status, body, _ = server.call("POST", "/api/v2/system/admin/session", ADMIN)
        assert status == 200, body
        headers = {"X-DreamFactory-Session-Token": body["session_token"]}
        jobs = _jobs()

        def send(job: tuple[str, str, Any]) -> tuple[int, Any]:
            method, path, payload = job
            status, answer, _ = server.call(method, path, payload, headers=headers, timeout=60)
            return status, answer

        call: Callable[[tuple[str, str, Any]], tuple[int, Any]] = send
        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(call, jobs))
        failed = [(job[:2], result) for job, result in zip(jobs, results, strict=True)]
        failed = [f for f in failed if f[1][0] not in (200, 201)]
        assert not failed, f"{len(failed)} of {len(jobs)} failed, e.g. {failed[:3]}"

        # everything written is there
        for path, key in (("user", "email"), ("role", "name"), ("app", "name")):
            status, body, _ = server.call(
                "GET", f"/api/v2/system/{path}?limit=1000", headers=headers
            )
            assert status == 200
            written = {
                job[2]["resource"][0][key]
                for job in jobs
                if job[0] == "POST" and job[1].endswith(path)
            }
            assert written <= {r[key] for r in body["resource"]}
    finally:
        server.stop()
    assert "database is locked" not in server.log.read_text()
