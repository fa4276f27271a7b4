"""Sign-in with a SAML 2.0 identity provider (issue #15, item 3), with pysaml2 as the SP.

The SP is configured in memory per `SamlProvider` and per request (its entity ID is the URL
of its metadata, its assertion consumer the `acs` URL beside it). `start()` signs an
AuthnRequest for the HTTP-Redirect binding and saves its ID as a `SignInState`; `finish()`
verifies the Response posted to the ACS (signed Response and signed Assertion, audience,
destination, validity, InResponseTo a pending request of this provider, used once), reads the
attributes and signs the user in (rbac.sso_users).

pysaml2 needs Debian's `xmlsec1` binary and key/cert files: they are written to a private
temporary folder for the one call that needs them and removed right after.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAMLError
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.response import StatusError, UnsolicitedResponse
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.samlp import response_from_string
from saml2.sigver import SignatureError
from saml2.xmldsig import SIG_RSA_SHA256

from core.errors import BadRequest, GatewayError, NotAuthenticated, ServiceUnavailable
from rbac import sso_state
from rbac.models import SamlProvider, SignInState
from rbac.sso_users import Identity

log = logging.getLogger(__name__)

XMLSEC1 = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
FETCH_TIMEOUT = 5.0  # seconds to fetch IdP metadata from a URL
CLOCK_SKEW = 60  # seconds of clock difference accepted on the assertion's validity
REFUSED = "The SAML response was refused"


@dataclass(frozen=True)
class SpUrls:
    """Where this gateway's SP lives for one provider (absolute URLs)."""

    entity_id: str
    acs: str


@dataclass(frozen=True)
class IdpInfo:
    """What the admin's Test reports of the IdP metadata."""

    entity_id: str
    sso_url: str


def sp_urls(build_absolute_uri: Any, provider: SamlProvider) -> SpUrls:
    """The SP's entity ID (its metadata URL) and ACS, from the request's scheme and host."""
    base = f"/api/v2/user/saml/{provider.name}"
    return SpUrls(
        entity_id=str(build_absolute_uri(f"{base}/metadata")),
        acs=str(build_absolute_uri(f"{base}/acs")),
    )


def _unavailable(provider: SamlProvider, reason: str) -> ServiceUnavailable:
    log.warning("SAML provider %s: %s", provider.name, reason)
    return ServiceUnavailable(f"SAML sign-in with '{provider.name}' is unavailable: {reason}.")


def idp_metadata(provider: SamlProvider) -> str:
    """The IdP's metadata XML: the field itself, or fetched from its http(s) URL."""
    text = (provider.idp_metadata or "").strip()
    if not text.lower().startswith(("http://", "https://")):
        if not text:
            raise _unavailable(provider, "its metadata (idp_metadata) is empty")
        return text
    try:
        answer = httpx.get(text, timeout=FETCH_TIMEOUT, follow_redirects=True)
    except httpx.TimeoutException:
        raise _unavailable(
            provider, f"its metadata URL did not answer within {FETCH_TIMEOUT:g} seconds"
        ) from None
    except httpx.HTTPError as exc:
        raise _unavailable(
            provider, f"its metadata URL cannot be reached ({type(exc).__name__})"
        ) from None
    if answer.status_code != 200:
        raise _unavailable(provider, f"its metadata URL answered HTTP {answer.status_code}")
    return answer.text


def _check_pem(provider: SamlProvider, field: str, pem: str) -> None:
    """503 naming `field` when it is empty or does not load (before pysaml2 reads it)."""
    if not pem.strip():
        raise _unavailable(provider, f"the SP's {field} is not set")
    try:
        if field == "sp_certificate":
            x509.load_pem_x509_certificate(pem.encode())
        else:
            serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise _unavailable(provider, f"the SP's {field} does not load (PEM expected)") from None


@contextmanager
def _files(provider: SamlProvider, *, with_key: bool) -> Iterator[dict[str, str]]:
    """The SP certificate (and key) as files in a private folder, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="saml-sp-")
    try:
        paths: dict[str, str] = {}
        parts = {"cert_file": ("sp_certificate", provider.sp_certificate)}
        if with_key:
            parts["key_file"] = ("sp_private_key", str(provider.sp_private_key or ""))
        for name, (field, pem) in parts.items():
            _check_pem(provider, field, pem or "")
            path = os.path.join(folder, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(pem)
            paths[name] = path
        yield paths
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _settings(urls: SpUrls, files: dict[str, str], idp_xml: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "entityid": urls.entity_id,
        "allow_unknown_attributes": True,  # top level: inside service.sp it is ignored
        "xmlsec_binary": XMLSEC1,
        "accepted_time_diff": CLOCK_SKEW,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(urls.acs, BINDING_HTTP_POST)]},
                "authn_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "allow_unsolicited": False,
            }
        },
        **files,
    }
    if idp_xml is not None:
        settings["metadata"] = {"inline": [idp_xml]}
    return settings


def _config(provider: SamlProvider, settings: dict[str, Any]) -> SPConfig:
    config = SPConfig()
    try:
        config.load(settings)
    except Exception as exc:  # pysaml2 raises anything from XML parsers to SAMLError
        log.info("SAML provider %s: configuration refused: %r", provider.name, exc)
        what = "its metadata (idp_metadata)" if "metadata" in settings else "sp_certificate"
        raise _unavailable(provider, f"{what} does not parse ({type(exc).__name__})") from None
    return config


def _idp(provider: SamlProvider, config: SPConfig) -> IdpInfo:
    """The one IdP of the metadata and its HTTP-Redirect SSO URL (503 when there is none)."""
    store = config.metadata
    idps = store.identity_providers() if store is not None else []
    if not idps:
        raise _unavailable(
            provider, "its metadata (idp_metadata) does not parse as an IdP's SAML metadata"
        )
    for entity_id in idps:
        for location in store.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT):
            return IdpInfo(entity_id=str(entity_id), sso_url=str(location["location"]))
    raise _unavailable(provider, "its metadata names no HTTP-Redirect single sign-on service")


def _client(provider: SamlProvider, config: SPConfig) -> Saml2Client:
    try:
        return Saml2Client(config=config)
    except Exception as exc:  # a certificate or key that does not load
        log.info("SAML provider %s: SP keys refused: %r", provider.name, exc)
        raise _unavailable(
            provider, "the SP's sp_certificate or sp_private_key does not load"
        ) from None


def sp_metadata(build_absolute_uri: Any, provider: SamlProvider) -> str:
    """The SP's metadata XML for the IdP's administrator (no IdP metadata needed)."""
    urls = sp_urls(build_absolute_uri, provider)
    with _files(provider, with_key=False) as files:
        config = _config(provider, _settings(urls, files, None))
        try:
            xml = create_metadata_string(None, config=config, valid=None)
        except Exception as exc:  # a certificate that does not load
            log.info("SAML provider %s: SP metadata failed: %r", provider.name, exc)
            raise _unavailable(provider, "the SP's sp_certificate does not load") from None
    return xml.decode() if isinstance(xml, bytes) else str(xml)


def check(provider: SamlProvider) -> str:
    """The admin's Test: the IdP metadata is reached and parses."""
    xml = idp_metadata(provider)
    urls = SpUrls("urn:gateway:test", "http://localhost/acs")
    config = _config(provider, _settings(urls, {}, xml))
    idp = _idp(provider, config)
    return f"the IdP metadata parses: entity ID {idp.entity_id}, sign-on URL {idp.sso_url}."


def start(build_absolute_uri: Any, provider: SamlProvider, app_id: int | None) -> str:
    """A signed AuthnRequest for the IdP (HTTP-Redirect): the URL to send the browser to."""
    urls = sp_urls(build_absolute_uri, provider)
    xml = idp_metadata(provider)
    with _files(provider, with_key=True) as files:
        config = _config(provider, _settings(urls, files, xml))
        idp = _idp(provider, config)
        client = _client(provider, config)
        try:
            request_id, info = client.prepare_for_authenticate(
                entityid=idp.entity_id,
                binding=BINDING_HTTP_REDIRECT,
                sign=True,
                sigalg=SIG_RSA_SHA256,
            )
        except Exception as exc:  # a key that does not load or does not match
            log.warning("SAML provider %s: AuthnRequest failed: %r", provider.name, exc)
            raise _unavailable(
                provider, "the SP key (sp_private_key) cannot sign the request"
            ) from None
    sso_state.begin(provider.pk, app_id=app_id, state=str(request_id))
    headers = dict(info["headers"])
    return str(headers["Location"])


def _decode(saml_response: str) -> str:
    if not saml_response:
        raise BadRequest("The assertion consumer needs the 'SAMLResponse' form field.")
    try:
        return base64.b64decode(saml_response, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("'SAMLResponse' is not a base64-encoded SAML response.") from None


def _parse(xml: str) -> Any:
    """The posted Response, not verified yet (to find its request and explain a refusal)."""
    try:
        message = response_from_string(xml)
    except Exception:  # not XML, or not a SAML Response
        message = None
    if message is None:
        raise BadRequest("'SAMLResponse' is not a SAML response.")
    return message


def _pending(request_id: str) -> bool:
    """Is `request_id` a sign-in sent and not back yet? (Any provider's: the one it belongs to
    is checked once the Response verifies, so a Response for another SP fails on its audience
    and destination and does not use up that sign-in.)"""
    if not request_id:
        return False
    return SignInState.objects.filter(key=sso_state.digest(request_id)).exists()


def _refusal(exc: Exception, message: Any, urls: SpUrls) -> str:
    text = str(exc).lower()
    if message.destination and message.destination != urls.acs:
        return "it was sent to another assertion consumer (destination)"
    if isinstance(exc, UnsolicitedResponse):
        return "it does not answer a sign-in started here, or was already used"
    if "missing" in text or "not signed" in text or "unsigned" in text:
        return "it is not signed as required (the Response and the Assertion must be signed)"
    if isinstance(exc, SignatureError) or "signature" in text:
        return "its signature does not verify (it was altered or signed by another key)"
    if isinstance(exc, StatusError):
        return f"the IdP reported a failure ({type(exc).__name__})"
    if "audience" in text or "not for me" in text:
        return "it is meant for another service provider (audience)"
    if "time" in text or "expired" in text or "too old" in text:
        return "it is outside its validity period"
    return f"it does not verify ({type(exc).__name__})"


def _first(ava: dict[str, list[Any]], name: str) -> str:
    values = (ava.get(name) or []) if name else []
    return str(values[0]).strip() if values else ""


def _identity(provider: SamlProvider, response: Any) -> Identity:
    ava: dict[str, list[Any]] = response.get_identity() or {}
    subject = response.get_subject()
    groups_name = provider.groups_attribute
    groups = [str(g) for g in (ava.get(groups_name) or [])] if groups_name else []
    email = _first(ava, provider.email_attribute)
    name_id = str(getattr(subject, "text", "") or "")
    if not email and getattr(subject, "format", None) == NAMEID_FORMAT_EMAILADDRESS:
        email = name_id
    return Identity(
        subject=name_id,
        email=email,
        first_name=_first(ava, provider.first_name_attribute),
        last_name=_first(ava, provider.last_name_attribute),
        groups=groups,
    )


def finish(
    build_absolute_uri: Any, provider: SamlProvider, saml_response: str
) -> tuple[Identity, int | None]:
    """The identity a posted Response vouches for, and the app its sign-in started from. 401
    for a Response that is unsigned, altered, for another SP, unsolicited or replayed."""
    xml = _decode(saml_response)
    message = _parse(xml)
    request_id = str(message.in_response_to or "")
    urls = sp_urls(build_absolute_uri, provider)
    idp_xml = idp_metadata(provider)
    outstanding = {request_id: provider.name} if _pending(request_id) else {}
    with _files(provider, with_key=False) as files:
        config = _config(provider, _settings(urls, files, idp_xml))
        client = _client(provider, config)
        try:
            response = client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding=outstanding
            )
            if response is None:
                raise SAMLError("no response")
            identity = _identity(provider, response)
        except GatewayError:
            raise
        except Exception as exc:  # pysaml2 raises many kinds: all are refusals
            log.info("SAML provider %s: response refused: %r", provider.name, exc)
            raise NotAuthenticated(f"{REFUSED}: {_refusal(exc, message, urls)}.") from None
    try:
        pending = sso_state.finish(request_id, provider.pk)
    except BadRequest as exc:  # used in between (a replay racing the first), or too old
        raise NotAuthenticated(f"{REFUSED}: {exc.message}") from None
    return identity, pending.app_id
