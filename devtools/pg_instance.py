"""A private PostgreSQL instance that a fault test or benchmark may stop, kill and restart.

It runs the binaries that PyPI's `pgserver` ships (a dev dependency, so every machine that can
run the tests has them) on a free TCP port of 127.0.0.1, from a throwaway data directory. It
never touches the shared server. As root (CI), PostgreSQL refuses to run, so the instance runs
as the unprivileged user `pgserver` (the same user pgserver itself creates for that case).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import psycopg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgserver._commands import POSTGRES_BIN_PATH

RUN_AS = "pgserver"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_root() -> bool:
    return os.geteuid() == 0


class PrivatePostgres:
    """initdb, start, stop (fast or immediate), restart, on one port for its whole life."""

    def __init__(self, *, max_connections: int = 100) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gw-private-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.max_connections = max_connections
        self._user: str | None = None
        if _as_root():
            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            ensure_user_exists(RUN_AS)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent, 0o555)
            self.root.chmod(0o755)
            shutil.chown(self.root, RUN_AS, RUN_AS)
            self._user = RUN_AS
        self.sockets.mkdir()
        if self._user:
            shutil.chown(self.sockets, self._user, self._user)

    def _run(self, tool: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603 (our own arguments, the bundled binaries)
            [str(POSTGRES_BIN_PATH / tool), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            user=self._user,
            cwd=self.root,
        )

    def init(self) -> PrivatePostgres:
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=utf8"),
            "--no-sync",
        )
        return self

    def start(self) -> PrivatePostgres:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
            f"-c fsync=off -c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl", *("-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """fast: clients get 57P01 and the sockets close; immediate: no goodbye at all."""
        self._run("pg_ctl", *("-D", str(self.data), "-m", mode, "-w", "stop"))

    def restart(self) -> None:
        self.stop()
        self.start()

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=2"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(dbname), autocommit=True)

    def terminate_clients(self, dbname: str) -> int:
        """pg_terminate_backend() every other session on `dbname`; how many were ended."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [dbname],
            ).fetchone()
        return int(row[0]) if row else 0

    def destroy(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
