"""The plumbing the throwaway identity providers of the sign-in tests share (tests/ldap_server.py,
tests/saml_idp.py, tests/oidc_server.py): skip-or-fail when a tool is missing, a temporary
folder, a self-signed certificate, and a process on a free local port that is started, waited
for, stopped and removed with its folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.servers import free_port

__all__ = ["IdpProcess", "folder", "free_port", "missing", "pem_key", "self_signed"]


def missing(message: str) -> NoReturn:
    """A tool the IdP needs is not installed: the test skips, and fails under CI."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def folder(prefix: str, *subfolders: str) -> Path:
    """A new temporary folder with these (empty) subfolders."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    for sub in subfolders:
        (path / sub).mkdir()
    return path


def self_signed(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    common_name: str,
    days: int,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> bytes:
    """A self-signed certificate (PEM) for `key`, valid from five minutes ago for `days`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def pem_key(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """`key` as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class IdpProcess:
    """An IdP process serving on `port` from the temporary `folder`; removing it stops it and
    deletes the folder (also as a context manager: `with start_x() as server: ...`)."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    def spawn(self, command: list[str], log: IO[bytes], **options: Any) -> None:
        """Start `command` with its output (stdout and stderr unless `options` say) to `log`."""
        options.setdefault("stdout", log)
        options.setdefault("stderr", log)
        self.process = subprocess.Popen(command, **options)  # noqa: S603

    def wait_until(self, ready: Callable[[], bool], seconds: float, pause: float) -> bool:
        """Whether `ready()` came true within `seconds` (False at once if the process ended)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if ready():
                return True
            time.sleep(pause)
        return False

    def listening(self) -> bool:
        """Whether the port takes a TCP connection."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.remove()
