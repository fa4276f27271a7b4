"""Sign-in with an OpenID Connect provider (issue #15, item 1), with authlib and joserfc.

`authorization_url()` starts the code flow (PKCE S256, `state`, `nonce`; the sign-in is saved by
rbac.sso_state), `finish()` takes the callback's parameters, exchanges the code
(client_secret_basic) and validates the ID token into an `sso_users.Identity`. `verify_jwt()`
checks any token the provider signed against its JWKS (also used by rbac.external_tokens).

The provider's discovery document and JWKS are cached per issuer in process for TTL seconds;
a token naming an unknown `kid` refetches the JWKS once (that is how key rotation works).
Every HTTP call has the provider's timeout. Failures are classified: provider down or slow ->
503, a bad token -> 401, a bad `state` -> 400 (rbac.sso_state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.claims import JWTClaims
from authlib.oidc.core import CodeIDToken
from django.http import HttpRequest
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from core.errors import BadRequest, NotAuthenticated, ServiceUnavailable
from rbac import sso_state
from rbac.models import OidcProvider
from rbac.sso_users import Identity

log = logging.getLogger(__name__)

TTL = 300.0  # seconds the discovery document and the JWKS are kept
REFETCH_PAUSE = 5.0  # seconds between JWKS refetches caused by unknown kids (forged tokens)
# asymmetric only: a provider's tokens are never HMAC-signed with something we know
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY = 5  # seconds of clock skew allowed on exp / nbf / iat


@dataclass
class _Entry:
    value: Any
    fetched: float


_lock = threading.Lock()
_metadata: dict[str, _Entry] = {}
_jwks: dict[str, _Entry] = {}
_refetched: dict[str, float] = {}  # JWKS URI -> when an unknown kid last made us refetch


def clear_cache() -> None:
    with _lock:
        _metadata.clear()
        _jwks.clear()
        _refetched.clear()


def issuer_of(provider: OidcProvider) -> str:
    return str(provider.issuer).rstrip("/")


def unavailable(provider: OidcProvider, reason: str) -> ServiceUnavailable:
    log.warning("OIDC provider %s: %s", provider.name, reason)
    return ServiceUnavailable(
        f"The OpenID provider of '{provider.name}' is unavailable: {reason}. Try again later."
    )


def _reason(provider: OidcProvider, exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return f"it did not answer within {provider.timeout} seconds"
    if isinstance(exc, requests.ConnectionError):
        return f"it cannot be reached at {issuer_of(provider)}"
    return f"the request failed ({type(exc).__name__})"


def _get_json(provider: OidcProvider, url: str, what: str) -> dict[str, Any]:
    timeout = provider.timeout
    try:
        response = requests.get(url, timeout=(timeout, timeout), allow_redirects=False)
    except requests.RequestException as exc:
        raise unavailable(provider, _reason(provider, exc)) from None
    if response.status_code != 200:
        raise unavailable(provider, f"its {what} answered HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise unavailable(provider, f"its {what} is not a JSON object")
    return data


def metadata(provider: OidcProvider) -> dict[str, Any]:
    """The provider's discovery document (cached for TTL seconds)."""
    issuer = issuer_of(provider)
    with _lock:
        entry = _metadata.get(issuer)
    if entry is not None and time.monotonic() - entry.fetched < TTL:
        return dict(entry.value)
    data = _get_json(provider, f"{issuer}/.well-known/openid-configuration", "discovery document")
    if str(data.get("issuer") or "").rstrip("/") != issuer:
        raise unavailable(
            provider, f"its discovery document names another issuer ({data.get('issuer')!r})"
        )
    for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(needed), str):
            raise unavailable(provider, f"its discovery document has no {needed}")
    with _lock:
        _metadata[issuer] = _Entry(data, time.monotonic())
    return data


def jwks(provider: OidcProvider, *, refresh: bool = False) -> KeySet:
    """The provider's signing keys (cached for TTL seconds). `refresh` (an unknown kid)
    refetches them, at most once per REFETCH_PAUSE seconds: forged kids cannot flood it."""
    uri = str(metadata(provider)["jwks_uri"])
    with _lock:
        entry = _jwks.get(uri)
    now = time.monotonic()
    if refresh and now - _refetched.get(uri, -REFETCH_PAUSE) < REFETCH_PAUSE:
        refresh = False  # refetched for an unknown kid moments ago: the keys are current
    if entry is not None and not refresh and now - entry.fetched < TTL:
        keys: KeySet = entry.value
        return keys
    if refresh:
        with _lock:
            _refetched[uri] = now
    data = _get_json(provider, uri, "JWKS")
    try:
        keys = KeySet.import_key_set(data)  # type: ignore[arg-type]  # a JWKS dict
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise unavailable(provider, f"its JWKS does not parse ({exc})") from None
    with _lock:
        _jwks[uri] = _Entry(keys, time.monotonic())
    return keys


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    try:
        keys.get_by_kid(kid)
    except (InvalidKeyIdError, ValueError):
        return False
    return True


def verify_jwt(
    provider: OidcProvider,
    token: str,
    *,
    audience: str,
    nonce: str | None = None,
    what: str = "token",
) -> dict[str, Any]:
    """The claims of `token` once its signature (the provider's JWKS), `iss`, `aud`, `exp`,
    `nbf` (and `nonce` when given: an ID token) check out; 401 naming what is wrong."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as exc:
        raise NotAuthenticated(f"Invalid {what}: it is not a signed JWT ({exc}).") from None
    kid = header.get("kid")
    keys = jwks(provider)
    if not _has_kid(keys, kid):  # the provider may have rotated its keys: look once more
        keys = jwks(provider, refresh=True)
        if not _has_kid(keys, kid):
            raise NotAuthenticated(
                f"Invalid {what}: it names a signing key (kid) that provider "
                f"'{provider.name}' does not publish."
            )
    try:
        decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
    except JoseError as exc:
        raise NotAuthenticated(
            f"Invalid {what}: its signature does not verify with the keys of provider "
            f"'{provider.name}' ({exc.error})."
        ) from None
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": str(metadata(provider)["issuer"])},
        "aud": {"essential": True, "value": audience},
        "exp": {"essential": True},
    }
    claims: JWTClaims
    if nonce is not None:
        claims = CodeIDToken(decoded.claims, decoded.header, options, {"nonce": nonce})
    else:
        claims = JWTClaims(decoded.claims, decoded.header, options)
    try:
        claims.validate(leeway=LEEWAY)
    except ExpiredTokenError:
        raise NotAuthenticated(f"Invalid {what}: it has expired.") from None
    except JoseError as exc:
        claim = exc.description or exc.error
        if nonce is not None and "nonce" in str(claim):
            raise NotAuthenticated(
                "Invalid ID token: its nonce does not match this sign-in; start it again."
            ) from None
        raise NotAuthenticated(f"Invalid {what}: {claim}.") from None
    return dict(claims)


def callback_url(request: HttpRequest, name: str) -> str:
    """The redirect_uri to register at the provider: DF's callback on this gateway (admin
    console sign-ins come back here too)."""
    return request.build_absolute_uri(
        f"/api/v2/user/session?oauth_callback=true&service={quote(name)}"
    )


def _client(provider: OidcProvider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        client_id=provider.client_id,
        client_secret=str(provider.client_secret or ""),
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106  (a method name)
    )


def authorization_url(
    provider: OidcProvider,
    redirect_uri: str,
    *,
    purpose: str = "user",
    app_id: int | None = None,
    return_to: str = "",
) -> str:
    """Where to send the browser to sign in; the sign-in is saved under its `state`."""
    endpoint = str(metadata(provider)["authorization_endpoint"])
    verifier, nonce = generate_token(64), generate_token(32)
    state = sso_state.begin(
        provider.service_id,
        purpose=purpose,
        nonce=nonce,
        verifier=verifier,
        app_id=app_id,
        return_to=return_to,
    )
    with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    return str(url)


def _exchange(provider: OidcProvider, redirect_uri: str, code: str, verifier: str) -> str:
    """The ID token for an authorization code (client_secret_basic, PKCE verifier)."""
    endpoint = str(metadata(provider)["token_endpoint"])
    timeout = provider.timeout
    with _client(provider, redirect_uri) as client:
        try:
            token = client.fetch_token(
                endpoint,
                code=code,
                code_verifier=verifier,
                timeout=(timeout, timeout),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise unavailable(provider, _reason(provider, exc)) from None
        except OAuthError as exc:
            raise NotAuthenticated(
                f"The OpenID provider of '{provider.name}' refused the sign-in code: "
                f"{exc.error}{f' ({exc.description})' if exc.description else ''}."
            ) from None
        except ValueError:
            raise unavailable(provider, "its token endpoint did not answer JSON") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise NotAuthenticated(
            f"The OpenID provider of '{provider.name}' answered no ID token; "
            "is 'openid' among the provider's scopes?"
        )
    return id_token


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def identity(provider: OidcProvider, claims: Mapping[str, Any]) -> Identity:
    """The user an ID token (or bearer token) vouches for. An email the provider marks
    unverified is refused (401): the gateway links users by email."""
    if claims.get("email_verified") is False:
        raise NotAuthenticated(
            f"The provider '{provider.name}' has not verified the user's email address; "
            "the gateway links users by email and accepts verified addresses only."
        )
    groups = claims.get(provider.groups_claim) if provider.groups_claim else None
    if isinstance(groups, str):
        groups = [groups]
    return Identity(
        subject=_text(claims.get("sub")),
        email=_text(claims.get(provider.email_claim or "email")).strip(),
        first_name=_text(claims.get("given_name")),
        last_name=_text(claims.get("family_name")),
        name=_text(claims.get("name")),
        groups=[str(g) for g in groups] if isinstance(groups, list) else [],
    )


def provider_error(provider: OidcProvider, params: Mapping[str, str]) -> NotAuthenticated:
    """The 401 for a callback carrying the provider's `error` (e.g. access_denied)."""
    error = params.get("error", "")[:100]
    description = params.get("error_description", "")[:300]
    detail = f" ({description})" if description else ""
    return NotAuthenticated(
        f"The OpenID provider of '{provider.name}' did not sign the user in: {error}{detail}."
    )


def finish(
    provider: OidcProvider, redirect_uri: str, params: Mapping[str, str]
) -> tuple[Identity, sso_state.Pending]:
    """The callback: the saved sign-in (its `state`, used once), the code exchanged, the ID
    token validated (nonce included) and read into an Identity."""
    if params.get("error"):
        try:
            sso_state.finish(params.get("state", ""), provider.service_id)
        except BadRequest:
            pass
        raise provider_error(provider, params)
    pending = sso_state.finish(params.get("state", ""), provider.service_id)
    code = params.get("code", "")
    if not code:
        raise BadRequest("The sign-in callback is missing its 'code' parameter.")
    id_token = _exchange(provider, redirect_uri, code, pending.verifier)
    claims = verify_jwt(
        provider, id_token, audience=provider.client_id, nonce=pending.nonce, what="ID token"
    )
    return identity(provider, claims), pending


def check(provider: OidcProvider) -> str:
    """The admin's "Test": discovery answers and the JWKS parses (else the 503 message)."""
    clear_cache()
    data = metadata(provider)
    keys = jwks(provider)
    return (
        f"discovery at {issuer_of(provider)} answers; its JWKS holds {len(keys.keys)} key(s); "
        f"token endpoint {data['token_endpoint']}."
    )
