"""A throwaway OpenLDAP server (Debian's slapd) for the LDAP sign-in tests.

`start_slapd()` writes a slapd.conf and a seed directory into a temporary folder, loads it
with slapadd and starts slapd on a free local port in the foreground (`-d stats`, so start-up
errors show); `remove()` (or the end of `with start_slapd() as slapd:`) ends it and deletes its
folder. Without slapd the tests skip, and fail under CI (`make test` installs it as root; see
the Makefile's `directory` target). The server offers StartTLS with a
self-signed certificate for 127.0.0.1 (`Slapd.ca_file`).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from tests.idp_process import IdpProcess, folder, free_port, missing, pem_key, self_signed

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
    if not available():
        missing(
            "slapd is not installed: apt-get install -y --no-install-recommends slapd ldap-utils"
        )


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


def _certificate(home: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (cert.pem, which is its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    address = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    extensions = ((address, False), (x509.BasicConstraints(ca=True, path_length=None), True))
    (home / "cert.pem").write_bytes(self_signed(key, "127.0.0.1", 1, extensions))
    (home / "key.pem").write_bytes(pem_key(key))


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
class Slapd(IdpProcess):
    @property
    def ca_file(self) -> str:
        return str(self.folder / "cert.pem")

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}/"

    def start(self) -> None:
        with open(self.folder / "slapd.log", "ab") as log:  # slapd keeps its own copy
            self.spawn(
                [SLAPD, "-f", str(self.folder / "slapd.conf"), "-h", self.url, "-d", "stats"],
                log,
                stdout=subprocess.DEVNULL,
            )
        if not self.wait_until(self.listening, seconds=10, pause=0.05):
            raise RuntimeError(f"slapd did not start:\n{self.log()[-2000:]}")

    def log(self) -> str:
        return (self.folder / "slapd.log").read_text(errors="replace")


def start_slapd() -> Slapd:
    require()
    home = folder("slapd-", "data")
    _certificate(home)
    (home / "slapd.conf").write_text(_config(home))
    (home / "seed.ldif").write_text(_seed())
    subprocess.run(  # noqa: S603
        [SLAPADD, "-f", str(home / "slapd.conf"), "-l", str(home / "seed.ldif")],
        check=True,
        capture_output=True,
    )
    server = Slapd(port=free_port(), folder=home)
    server.start()
    return server
