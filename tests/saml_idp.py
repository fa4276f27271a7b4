"""A throwaway SAML 2.0 identity provider (Debian's simplesamlphp) for the SAML sign-in tests.

`start_idp()` writes a private simplesamlphp configuration into a temporary folder (the hosted
IdP signing with a throwaway RSA key, `exampleauth:UserPass` users with passwords and the
attributes email/givenName/sn/groups) and serves it with `php -S 127.0.0.1:<free port>`. The
SPs it trusts are XML metadata files in `<folder>/sp/`: `trust(xml)` adds the gateway's SP
metadata (PHP reads the configuration at each request, so no restart). `remove()` (or the end
of `with start_idp() as idp:`) ends it and deletes its folder.

Without simplesamlphp, php or xmlsec1 the tests skip, and fail under CI. Install with
`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends simplesamlphp
php-cli php-xml php-mbstring xmlsec1`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.idp_process import IdpProcess, folder, free_port, missing, pem_key, self_signed

SSP_ROOT = Path("/usr/share/simplesamlphp")
PHP = shutil.which("php") or "/usr/bin/php"
XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
PACKAGES = "simplesamlphp php-cli php-xml php-mbstring xmlsec1"
# username: (password, email, givenName, sn, groups)
USERS = {
    "alice": ("alice-saml-pw-1", "alice@example.com", "Alice", "Anders", ["sales", "staff"]),
    "bob": ("bob-saml-pw-2", "bob@example.com", "Bob", "Berg", ["ops"]),
    "nomail": ("nomail-saml-pw-3", "", "No", "Mail", []),
}


def available() -> bool:
    return all(os.path.exists(p) for p in (SSP_ROOT / "www" / "index.php", PHP, XMLSEC1))


def require() -> None:
    if not available():
        missing(
            "simplesamlphp, php or xmlsec1 is not installed: DEBIAN_FRONTEND=noninteractive "
            f"apt-get install -y --no-install-recommends {PACKAGES}"
        )


def keypair(common_name: str) -> tuple[str, str]:
    """A throwaway self-signed RSA certificate and its unencrypted PKCS#8 key, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return self_signed(key, common_name, days=2).decode(), pem_key(key).decode()


def _php(value: object) -> str:
    """A Python str/list/dict as a PHP literal (strings single-quoted and escaped)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(_php(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{_php(k)} => {_php(v)}" for k, v in value.items()) + "]"
    raise TypeError(type(value))


def _config(folder: Path, base_url: str) -> str:
    settings = {
        "baseurlpath": base_url + "/",
        "certdir": f"{folder}/cert/",
        "loggingdir": f"{folder}/log/",
        "datadir": f"{folder}/data/",
        "tempdir": str(folder / "tmp"),
        "metadatadir": f"{folder}/metadata/",
        "attributenamemapdir": f"{SSP_ROOT}/config/attributemap/",
        "secretsalt": secrets.token_hex(16),
        "auth.adminpassword": secrets.token_hex(16),
        "technicalcontact_name": "Tests",
        "technicalcontact_email": "tests@example.com",
        "timezone": "UTC",
        "logging.handler": "file",
        "logging.logfile": "simplesamlphp.log",
        "store.type": "phpsession",
        "session.phpsession.savepath": f"{folder}/sessions",
        "session.cookie.samesite": "Lax",
        "language.available": ["en"],
    }
    return f"""<?php
$config = {_php(settings)};
$config['logging.level'] = SimpleSAML\\Logger::DEBUG;
$config['showerrors'] = true;
$config['enable.saml20-idp'] = true;
$config['session.cookie.secure'] = false;
$config['language.cookie.secure'] = false;
$config['admin.checkforupdates'] = false;
$config['module.enable'] = ['exampleauth' => true, 'core' => true, 'saml' => true];
$config['metadata.sources'] = array_merge(
    [['type' => 'flatfile']],
    array_map(fn ($f) => ['type' => 'xml', 'file' => $f], glob('{folder}/sp/*.xml') ?: [])
);
"""


def _authsources() -> str:
    users: dict[str, object] = {}
    for uid, (password, email, given, sn, groups) in USERS.items():
        attributes: dict[str, object] = {"uid": [uid], "givenName": [given], "sn": [sn]}
        if email:
            attributes["email"] = [email]
        if groups:
            attributes["groups"] = groups
        users[f"{uid}:{password}"] = attributes
    sources = {"admin": ["core:AdminPassword"], "users": {0: "exampleauth:UserPass", **users}}
    return "<?php\n$config = " + _php_sources(sources) + ";\n"


def _php_sources(sources: dict[str, object]) -> str:
    """authsources.php: each source's class name is its element 0."""
    parts = []
    for name, source in sources.items():
        if isinstance(source, dict):
            body = ", ".join(
                (_php(v) if k == 0 else f"{_php(k)} => {_php(v)}") for k, v in source.items()
            )
            parts.append(f"{_php(name)} => [{body}]")
        else:
            parts.append(f"{_php(name)} => {_php(source)}")
    return "[" + ", ".join(parts) + "]"


def _idp_hosted(folder: Path) -> str:
    return f"""<?php
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    'privatekey' => '{folder}/cert/idp.key',
    'certificate' => '{folder}/cert/idp.crt',
    'auth' => 'users',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    'validate.authnrequest' => true,
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
];
"""


@dataclass
class Idp(IdpProcess):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/saml2/idp/metadata.php"

    @property
    def entity_id(self) -> str:
        return self.metadata_url

    @property
    def certificate(self) -> str:
        return (self.folder / "cert" / "idp.crt").read_text()

    def trust(self, sp_metadata: str) -> None:
        """Trust an SP: its metadata XML (the gateway's), one file per entity."""
        name = hashlib.sha256(sp_metadata.encode()).hexdigest()[:16]
        (self.folder / "sp" / f"{name}.xml").write_text(sp_metadata)

    def start(self) -> None:
        env = {**os.environ, "SIMPLESAMLPHP_CONFIG_DIR": str(self.folder / "config")}
        with open(self.folder / "php.log", "ab") as log:
            self.spawn(
                [PHP, "-S", f"127.0.0.1:{self.port}", "-t", str(SSP_ROOT / "www")],
                log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.folder,
            )
        if not self.wait_until(self.listening, seconds=10, pause=0.05):
            raise RuntimeError(f"simplesamlphp did not start:\n{self.log()}")

    def log(self) -> str:
        texts = []
        for name in ("php.log", "log/simplesamlphp.log"):
            path = self.folder / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(texts)


def start_idp() -> Idp:
    require()
    home = folder("saml-idp-", "config", "cert", "log", "data", "tmp", "metadata", "sessions", "sp")
    idp = Idp(port=free_port(), folder=home)
    cert, key = keypair("saml-idp.test")
    (home / "cert" / "idp.crt").write_text(cert)
    (home / "cert" / "idp.key").write_text(key)
    (home / "config" / "config.php").write_text(_config(home, idp.url))
    (home / "config" / "authsources.php").write_text(_authsources())
    (home / "metadata" / "saml20-idp-hosted.php").write_text(_idp_hosted(home))
    idp.start()
    return idp
