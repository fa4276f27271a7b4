"""CORS for /api/ (spec §12.1) and the security headers every API answer carries.

The rules are the enabled `system/cors` records (core.models.CorsRule): among the records whose
`path` matches the request path, the longest path whose `origin` list holds the caller's origin
(or `*`) wins. When no record matches the path, the instance-wide settings
(CORS_ALLOWED_ORIGINS, ...) apply; with those empty (the default) no CORS header is sent. A
preflight from an allowed origin answers 204 when the method is allowed and 405 when not.

The records are read once into a snapshot and re-read only when the metadata version moves
(core/metadata.py), so a request never queries the metadata database for them.

Hand-written rather than django-cors-headers: the data API's lean WSGI path skips Django's
middleware chain, so the same few lines must run on both paths.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse

from core.environ_request import RequestLike
from core.metadata import stamp
from core.models import CorsRule
from core.responses import Answer
from core.verbs import verb_names

log = logging.getLogger(__name__)

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


@dataclass(frozen=True, slots=True)
class Policy:
    """What one origin may do on one path: a record's fields, or the instance settings."""

    origins: tuple[str, ...]  # lower-case, without a trailing slash; "*" for any
    methods: tuple[str, ...]
    headers: tuple[str, ...]  # ("*",): whatever the preflight asks for
    exposed: tuple[str, ...]
    max_age: int
    credentials: bool

    def allow_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
        if not origin:
            return None
        if "*" in self.origins:
            return origin if self.credentials else "*"
        return origin if _origin_key(origin) in self.origins else None


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled CORS record, compiled."""

    path: str
    pattern: re.Pattern[str]
    policy: Policy

    def matches(self, path: str) -> bool:
        bare = path.lstrip("/")
        return bool(self.pattern.match(bare) or self.pattern.match("/" + bare))


def _origin_key(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _items(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def compile_path(path: str) -> re.Pattern[str]:
    """A record's `path`: a regex when it starts with `^`, a glob otherwise (`*` spans `/`)."""
    if path.startswith("^"):
        return re.compile(path)
    return re.compile(fnmatch.translate(path.strip()))


def compile_rule(record: CorsRule) -> Rule | None:
    """The record as a Rule; None (and a warning) when its regex does not compile."""
    try:
        pattern = compile_path(record.path)
    except re.error:
        log.warning("CORS record %s: path %r is not a valid regex; ignored", record.pk, record.path)
        return None
    policy = Policy(
        origins=tuple("*" if o == "*" else _origin_key(o) for o in _items(record.origin)),
        methods=tuple(verb_names(record.method)),
        headers=_items(record.header) or ("*",),
        exposed=_items(record.exposed_header),
        max_age=record.max_age,
        credentials=record.supports_credentials,
    )
    return Rule(record.path, pattern, policy)


class Rules:
    """This process's snapshot of the enabled records, dropped when the metadata version moves."""

    def __init__(self) -> None:
        self._rules: tuple[Rule, ...] | None = None
        self._lock = threading.Lock()
        stamp.on_change(self.clear)

    def clear(self) -> None:
        self._rules = None

    def current(self) -> tuple[Rule, ...]:
        try:
            stamp.poll()
        except DatabaseError:  # no metadata database yet: what this process knows, or nothing
            return self._rules or ()
        rules = self._rules
        if rules is None:
            with self._lock:
                rules = self._rules
                if rules is None:
                    rules = self._rules = self._load()
        return rules

    def _load(self) -> tuple[Rule, ...]:
        try:
            records = list(CorsRule.objects.filter(enabled=True))
        except DatabaseError:
            log.warning("CORS records could not be read; none apply until the next change")
            return ()
        compiled = [rule for rule in map(compile_rule, records) if rule is not None]
        # the longest path wins; records with the same path keep their id order
        return tuple(sorted(compiled, key=lambda r: -len(r.path)))


rules = Rules()


def _instance_policy() -> Policy | None:
    if not settings.CORS_ALLOWED_ORIGINS:
        return None
    return Policy(
        origins=tuple("*" if o == "*" else _origin_key(o) for o in settings.CORS_ALLOWED_ORIGINS),
        methods=tuple(m.upper() for m in settings.CORS_ALLOWED_METHODS),
        headers=tuple(settings.CORS_ALLOWED_HEADERS),
        exposed=tuple(settings.CORS_EXPOSE_HEADERS),
        max_age=settings.CORS_MAX_AGE,
        credentials=settings.CORS_ALLOW_CREDENTIALS,
    )


def policy_for(path: str, origin: str) -> tuple[Policy, str] | None:
    """The policy that lets `origin` call `path`, with the Allow-Origin value; None if none."""
    if not origin:
        return None
    matching = [rule for rule in rules.current() if rule.matches(path)]
    candidates = [rule.policy for rule in matching]
    if not matching:
        instance = _instance_policy()
        candidates = [instance] if instance is not None else []
    for policy in candidates:
        allow = policy.allow_origin(origin)
        if allow is not None:
            return policy, allow
    return None


def preflight(request: RequestLike) -> HttpResponse | None:
    """The answer to a CORS preflight, or None when the request is not one."""
    if request.method != "OPTIONS":
        return None
    method = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "").upper()
    if not method:
        return None
    response = HttpResponse(status=204)
    found = policy_for(request.path_info, request.META.get("HTTP_ORIGIN", ""))
    if found is None:
        return response  # no CORS headers: the browser refuses the real request
    policy, allow = found
    if method not in policy.methods:
        response.status_code = 405
    response["Access-Control-Allow-Origin"] = allow
    response["Access-Control-Allow-Methods"] = ", ".join(policy.methods)
    headers = ", ".join(policy.headers)
    if policy.headers == ("*",):  # echo what is asked: `*` means nothing with credentials
        headers = request.META.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "") or "*"
    response["Access-Control-Allow-Headers"] = headers
    if policy.max_age > 0:
        response["Access-Control-Max-Age"] = str(policy.max_age)
    if policy.credentials:
        response["Access-Control-Allow-Credentials"] = "true"
    response["Vary"] = "Origin"
    return response


def finish(request: RequestLike, response: Answer) -> Answer:
    """Add the security headers, and the CORS headers for an allowed origin."""
    for name, value in SECURITY_HEADERS:
        response[name] = value
    origin = request.META.get("HTTP_ORIGIN")
    if origin:
        found = policy_for(request.path_info, origin)
        if found is not None:
            policy, allow = found
            response["Access-Control-Allow-Origin"] = allow
            if policy.exposed:
                response["Access-Control-Expose-Headers"] = ", ".join(policy.exposed)
            if policy.credentials:
                response["Access-Control-Allow-Credentials"] = "true"
            response["Vary"] = "Origin"
    return response
