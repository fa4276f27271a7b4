"""Saving a user whose email another request may be taking at the same moment."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core.errors import BadRequest
from rbac.models import User

TAKEN = "user with this email already exists."  # DRF's UniqueValidator message
DUPLICATE = f"Validation failed: email: {TAKEN}"


def save_user(user: User) -> None:
    """Save `user` in a savepoint: when a concurrent request took the email between the
    uniqueness check and this write (two workers, PostgreSQL's READ COMMITTED), the answer is
    the same 400 the check gives, not a 500; the surrounding transaction stays usable."""
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        if User.objects.filter(email=user.email).exclude(pk=user.pk).exists():
            raise BadRequest(DUPLICATE, context={"fields": {"email": [TAKEN]}}) from None
        raise
