"""Sign-ins in flight (issue #15): one `SignInState` row per browser sign-in sent to a provider,
keyed by the SHA-256 of its `state` (OIDC) or request ID (SAML), so any instance can finish it.
A row is used once (deleted as it is read) and refused once older than MAX_AGE."""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import BadRequest
from rbac.models import SignInState

MAX_AGE = timedelta(minutes=10)
SWEEP_CHANCE = 0.05  # of new sign-ins that also delete the expired rows


@dataclass(frozen=True)
class Pending:
    """A sign-in's saved parts, as its callback reads them back."""

    service_id: int
    purpose: str
    nonce: str
    verifier: str
    app_id: int | None
    return_to: str


def digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def sweep() -> int:
    """Delete the sign-ins that can no longer finish; how many went."""
    deleted, _ = SignInState.objects.filter(created__lt=timezone.now() - MAX_AGE).delete()
    return int(deleted)


def begin(
    service_id: int,
    *,
    purpose: str = "user",
    nonce: str = "",
    verifier: str = "",
    app_id: int | None = None,
    return_to: str = "",
    state: str | None = None,
) -> str:
    """Save a new sign-in; its `state` (random unless given, e.g. a SAML request ID)."""
    state = state or secrets.token_urlsafe(32)
    SignInState.objects.create(
        key=digest(state),
        service_id=service_id,
        purpose=purpose,
        nonce=nonce,
        verifier=verifier,
        app_id=app_id,
        return_to=return_to,
    )
    if random.random() < SWEEP_CHANCE:  # noqa: S311  (housekeeping, not security)
        sweep()
    return state


def finish(state: str, service_id: int) -> Pending:
    """The sign-in `state` names, deleted as it is read (a replay finds nothing). 400 when it
    is missing, unknown, already used, for another provider or older than MAX_AGE."""
    if not state:
        raise BadRequest("The sign-in callback is missing its 'state' parameter.")
    with transaction.atomic():
        row = SignInState.objects.select_for_update().filter(key=digest(state)).first()
        if row is None:
            raise BadRequest(
                "The sign-in 'state' is unknown or was already used; start the sign-in again."
            )
        row.delete()
    if row.service_id != service_id:
        raise BadRequest("The sign-in 'state' belongs to another provider; start again.")
    if row.created < timezone.now() - MAX_AGE:
        raise BadRequest(
            f"The sign-in took longer than {int(MAX_AGE.total_seconds() // 60)} minutes; "
            "start it again."
        )
    return Pending(
        service_id=row.service_id,
        purpose=row.purpose,
        nonce=row.nonce,
        verifier=str(row.verifier or ""),
        app_id=row.app_id,
        return_to=row.return_to,
    )


def purpose_of(state: str) -> str | None:
    """What a pending sign-in is for ("user", "admin"), without using it up; None if unknown."""
    if not state:
        return None
    purpose = SignInState.objects.filter(key=digest(state)).values_list("purpose", flat=True)
    return next(iter(purpose), None)
