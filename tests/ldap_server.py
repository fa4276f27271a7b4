"""A throwaway OpenLDAP server (Debian's slapd) for the LDAP sign-in tests.

`start_slapd()` writes a slapd.conf and a seed directory into a temporary folder, loads it
with slapadd and starts slapd on a free local port in the foreground (`-d stats`, so start-up
errors show); `stop()` ends it. Without slapd the tests skip, and fail under CI (`make test`
installs it as root; see the Makefile's `directory` target). The server offers StartTLS with a
self-signed certificate for 127.0.0.1 (`Slapd.ca_file`).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SUFFIX = "dc=example,dc=com"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret-123"
BIND_DN = f"cn=reader,{SUFFIX}"
BIND_PASSWORD = "reader-secret-456"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
USERS = {
    "alice": ("alice-password-1", "alice@example.com", "Alice", "Anders"),
    "bob": ("bob-password-2", "bob@example.com", "Bob", "Berg"),
}
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SLAPPASSWD = shutil.which("slappasswd") or "/usr/sbin/slappasswd"


def available() -> bool:
    return os.path.exists(SLAPD) and os.path.exists(SLAPADD)


def require() -> None:
    if available():
        return
    message = "slapd is not installed: apt-get install -y --no-install-recommends slapd ldap-utils"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hash(password: str) -> str:
    return subprocess.run(  # noqa: S603
        [SLAPPASSWD, "-s", password], check=True, capture_output=True, text=True
    ).stdout.strip()


def _seed() -> str:
    entries = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        f"dn: {BIND_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reader\n"
        f"sn: reader\nuserPassword: {_hash(BIND_PASSWORD)}",
    ]
    for uid, (password, mail, given, sn) in USERS.items():
        entries.append(
            f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {given} {sn}\ngivenName: {given}\nsn: {sn}\nmail: {mail}\n"
            f"userPassword: {_hash(password)}"
        )
    entries.append(
        f"dn: cn=sales,{GROUPS}\nobjectClass: groupOfNames\ncn: sales\n"
        f"member: {BIND_DN}\nmember: uid=alice,{PEOPLE}"
    )
    entries.append(
        f"dn: cn=ops,{GROUPS}\nobjectClass: groupOfNames\ncn: ops\nmember: {BIND_DN}\n"
        f"member: uid=bob,{PEOPLE}"
    )
    return "\n\n".join(entries) + "\n"


def _certificate(folder: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (cert.pem, which is its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _config(folder: Path) -> str:
    schema = "/etc/ldap/schema"
    return f"""include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/nis.schema
include {schema}/inetorgperson.schema
pidfile {folder}/slapd.pid
TLSCertificateFile {folder}/cert.pem
TLSCertificateKeyFile {folder}/key.pem
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {_hash(ROOT_PASSWORD)}
directory {folder}/data
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


@dataclass
class Slapd:
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def ca_file(self) -> str:
        return str(self.folder / "cert.pem")

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}/"

    def start(self) -> None:
        with open(self.folder / "slapd.log", "ab") as log:  # slapd keeps its own copy
            self.process = subprocess.Popen(  # noqa: S603
                [SLAPD, "-f", str(self.folder / "slapd.conf"), "-h", self.url, "-d", "stats"],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        log = (self.folder / "slapd.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"slapd did not start:\n{log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return (self.folder / "slapd.log").read_text(errors="replace")


def start_slapd() -> Slapd:
    require()
    folder = Path(tempfile.mkdtemp(prefix="slapd-"))
    (folder / "data").mkdir()
    _certificate(folder)
    (folder / "slapd.conf").write_text(_config(folder))
    (folder / "seed.ldif").write_text(_seed())
    subprocess.run(  # noqa: S603
        [SLAPADD, "-f", str(folder / "slapd.conf"), "-l", str(folder / "seed.ldif")],
        check=True,
        capture_output=True,
    )
    server = Slapd(port=free_port(), folder=folder)
    server.start()
    return server


def remove(server: Slapd) -> None:
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)
