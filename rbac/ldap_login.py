"""Sign-in with an LDAP or Active Directory provider (issue #15, item 2), with ldap3.

`verify()` checks a username and password against the directory and reads the entry (email,
names, groups); rbac.sso_users signs the user in. The session itself is the gateway's usual JWT.

Failures are classified: an empty password is refused before any bind (no anonymous bind), a
wrong password or unknown user is 401, and an unreachable or slow server is 503 (ldap3's
connect and receive timeouts: never a hang).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPStartTLSError
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from core.errors import BadRequest, NotAuthenticated, ServiceUnavailable
from rbac.models import LdapProvider
from rbac.sso_users import INVALID_CREDENTIALS, Identity

log = logging.getLogger(__name__)

ATTRIBUTES = ["mail", "cn", "givenName", "sn", "displayName", "memberOf", "userPrincipalName"]
DEFAULT_FILTERS = {
    "ldap": "(|(uid={username})(mail={username}))",
    "adldap": "(|(sAMAccountName={username})(userPrincipalName={username})(mail={username}))",
}


def _first(values: Any) -> str:
    if isinstance(values, list):
        return str(values[0]) if values else ""
    return str(values or "")


def _connection(provider: LdapProvider, user: str | None, password: str | None) -> Connection:
    tls = None
    if provider.use_tls or provider.use_ssl:  # the certificate and host name are verified
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=provider.tls_ca_file or None)
    server = Server(
        provider.host,
        port=provider.port,
        use_ssl=provider.use_ssl,
        tls=tls,
        get_info=NONE,
        connect_timeout=provider.timeout,
    )
    return Connection(
        server,
        user=user,
        password=password,
        receive_timeout=provider.timeout,
        raise_exceptions=False,
        read_only=True,
    )


def _unreachable(provider: LdapProvider, exc: Exception) -> ServiceUnavailable:
    kind, text = type(exc).__name__, str(exc).lower()
    if isinstance(exc, TimeoutError) or "timed out" in text or "timeout" in text:
        reason = f"it did not answer within {provider.timeout} seconds"
    elif isinstance(exc, LDAPStartTLSError) or "certificate" in text:
        reason = "the TLS handshake failed (is the server's certificate trusted?)"
    else:
        reason = "it cannot be reached"
    log.warning("LDAP provider %s: %s (%s)", provider.name, reason, kind)
    return ServiceUnavailable(
        f"The directory of '{provider.name}' ({provider.host}:{provider.port}) is unavailable: "
        f"{reason}. Try again later."
    )


def _refused(provider: LdapProvider) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The directory of '{provider.name}' refused the provider's bind DN; "
        "check its bind_dn and bind_password."
    )


def _bind(provider: LdapProvider, user: str, password: str) -> Connection | None:
    """A bound connection, or None when the directory refuses the credentials."""
    conn = _connection(provider, user, password)
    try:
        conn.open()
        if provider.use_tls and not provider.use_ssl:
            conn.start_tls()
        if conn.bind():
            return conn
    except LDAPException as exc:
        raise _unreachable(provider, exc) from None
    conn.unbind()
    return None


def _groups(provider: LdapProvider, conn: Connection, dn: str, member_of: list[str]) -> list[str]:
    groups = [str(g) for g in member_of]
    if provider.type == "ldap":  # no memberOf overlay needed: groups naming the user
        escaped = escape_filter_chars(dn)
        conn.search(
            provider.base_dn,
            f"(|(member={escaped})(uniqueMember={escaped}))",
            SUBTREE,
            attributes=[],
        )
        groups += [str(e.entry_dn) for e in conn.entries]
    return groups


def verify(provider: LdapProvider, username: str, password: str) -> Identity:
    """The directory entry of `username` once its `password` binds; 401 otherwise."""
    if not password:
        raise BadRequest("Login request is missing required password.")
    template = provider.user_filter or DEFAULT_FILTERS[provider.type]
    search = template.replace("{username}", escape_filter_chars(username))
    try:
        if provider.bind_dn:  # search with the service account, then bind as the user
            service = _bind(provider, provider.bind_dn, str(provider.bind_password))
            if service is None:
                raise _refused(provider)
            service.search(provider.base_dn, search, SUBTREE, attributes=ATTRIBUTES)
            found = list(service.entries)
            service.unbind()
            if len(found) != 1:
                raise NotAuthenticated(INVALID_CREDENTIALS)
            dn = str(found[0].entry_dn)
            conn = _bind(provider, dn, password)
        else:  # direct bind: AD's <username><account_suffix>, LDAP's uid=<username><suffix>
            dn = username + provider.account_suffix
            if provider.type == "ldap":
                dn = (
                    f"uid={escape_rdn(username)}{provider.account_suffix or ',' + provider.base_dn}"
                )
            conn = _bind(provider, dn, password)
            found = []
        if conn is None:
            raise NotAuthenticated(INVALID_CREDENTIALS)
        if not found:
            conn.search(provider.base_dn, search, SUBTREE, attributes=ATTRIBUTES)
            found = list(conn.entries)
            if len(found) != 1:
                conn.unbind()
                raise NotAuthenticated(INVALID_CREDENTIALS)
            dn = str(found[0].entry_dn)
        attrs = found[0].entry_attributes_as_dict
        groups = _groups(provider, conn, dn, attrs.get("memberOf", []))
        conn.unbind()
    except LDAPException as exc:
        raise _unreachable(provider, exc) from None
    email = _first(attrs.get("mail")) or _first(attrs.get("userPrincipalName"))
    if not email and "@" in username:
        email = username
    if not email:
        raise NotAuthenticated(
            f"The directory entry of '{username}' has no email address; the gateway needs one."
        )
    return Identity(
        subject=dn,
        email=email.strip().lower(),
        first_name=_first(attrs.get("givenName")),
        last_name=_first(attrs.get("sn")),
        name=_first(attrs.get("displayName")) or _first(attrs.get("cn")),
        groups=groups,
    )


def check(provider: LdapProvider) -> str:
    """The admin's "Test": the server answers and the bind DN binds (when one is set). The
    answer says what worked; a failure raises the classified 503."""
    if not provider.bind_dn:
        conn = _connection(provider, None, None)
        try:
            conn.open()
            if provider.use_tls and not provider.use_ssl:
                conn.start_tls()
        except LDAPException as exc:
            raise _unreachable(provider, exc) from None
        conn.unbind()
        return f"{provider.host}:{provider.port} answers (no bind DN set: users bind directly)."
    conn = _bind(provider, provider.bind_dn, str(provider.bind_password))
    if conn is None:
        raise _refused(provider)
    conn.unbind()
    return f"{provider.host}:{provider.port} answers and the bind DN binds."
