"""What the gateway knows about the /api/ request in flight, for the observers that run after it
(audit trail, metrics, logs): who called, which service and resource, what came of it.

One RequestContext per request, held in a context variable: the pipeline fills it in as the
stages learn things; gateway.middleware.serve_api opens it and, once the answer exists, hands
it to every registered observer. It never holds a body, a key, a token or a password.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.client import client_address
from core.environ_request import RequestLike
from core.responses import Answer

log = logging.getLogger(__name__)


class _Named(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...


class _Person(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...


class Caller(Protocol):
    """Who is calling, as the context records it (rbac.policy.Principal is one)."""

    @property
    def app(self) -> _Named | None: ...
    @property
    def user(self) -> _Person | None: ...
    @property
    def role(self) -> _Named | None: ...
    @property
    def is_admin(self) -> bool: ...


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _RequestIds:
    """New request ids: 32 hex digits, a random per-process half and a counter (a uuid4 per
    request cost a system call; ids only need to be unique, nobody has to guess them)."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


_ids = _RequestIds()
os.register_at_fork(after_in_child=_ids.reseed)  # a forked worker must not repeat its parent's


@dataclass(slots=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    client: str
    started: float = field(default_factory=time.perf_counter)
    started_at: float = field(default_factory=time.time)
    verb: str = ""  # after verb tunnelling (X-HTTP-Method)
    service: str | None = None
    resource: str | None = None  # the path below the service, e.g. _table/orders/5
    app_id: int | None = None
    app_name: str | None = None
    user_id: int | None = None
    user_email: str | None = None
    role_id: int | None = None
    role_name: str | None = None
    is_admin: bool = False
    status: int = 0
    rows: int | None = None  # records written by a data API write
    cache: str | None = None  # "hit", "miss" or "bypass" for cacheable reads
    limited_by: int | None = None  # id of the rate limit that refused the call
    preflight: bool = False  # a CORS preflight (answered before any API code ran)
    error: str | None = None  # the message an error answer told the client
    cause: str | None = None  # what caused it: an SQLSTATE or an exception class (5xx logs)

    @property
    def duration(self) -> float:
        """Seconds since the request began."""
        return time.perf_counter() - self.started

    def note_principal(self, principal: Caller) -> None:
        """Who is calling: the app, the user, the effective role (never a credential)."""
        if principal.app is not None:
            self.app_id, self.app_name = principal.app.id, principal.app.name
        user = principal.user
        if user is not None:
            self.user_id, self.user_email = user.id, user.email
        if principal.role is not None:
            self.role_id, self.role_name = principal.role.id, principal.role.name
        self.is_admin = principal.is_admin


Observer = Callable[[RequestContext, Any], None]  # the response: an Answer (core.responses)

_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)
_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    """Run `observer(context, response)` after every /api/ request (apps register in ready())."""
    if observer not in _observers:
        _observers.append(observer)


def current() -> RequestContext | None:
    return _current.get()


def note_error(message: str, cause: str | None) -> None:
    """An error answer is being rendered: what the client is told, and why (for the logs)."""
    context = _current.get()
    if context is not None:
        context.error, context.cause = message, cause


def note_rows(count: int) -> None:
    """A data API write tells how many records it wrote."""
    context = _current.get()
    if context is not None:
        context.rows = count


def begin(request: RequestLike) -> tuple[RequestContext, Any]:
    """Open the context of a request; returns it and the token that finish() needs."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    context = RequestContext(
        request_id=given if _REQUEST_ID.match(given) else _ids.next(),
        method=request.method or "GET",
        path=request.path_info,
        client=client_address(request),
    )
    context.verb = context.method
    return context, _current.set(context)


def finish(context: RequestContext, token: Any, response: Answer) -> None:
    """Record the outcome, tag the answer with the request id, run the observers."""
    context.status = response.status_code
    response["X-Request-ID"] = context.request_id
    try:
        for observer in _observers:
            try:
                observer(context, response)
            except Exception:  # an observer must never break an answer
                log.exception("request observer %r failed", observer)
    finally:
        _current.reset(token)
