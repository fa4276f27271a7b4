"""Password resets without an admin (DF `user/password?reset=true`): a security question when
the user set one, else a one-time code sent by email.

The code is 32 letters and digits, stored only as a SHA-256 hash with an expiry
(GATEWAY_PASSWORD_RESET_MINUTES), and used once. It goes out through Django's mail framework:
SMTP when EMAIL_URL is set, else the console backend, which writes the message to the server
log so the operator can pass the code on (a self-hosted gateway often has no mail server).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from core.errors import BadRequest, NotFound
from rbac.models import User

log = logging.getLogger("gateway")

CODE_LENGTH = 32
_ALPHABET = string.ascii_letters + string.digits
BAD_CODE = "The supplied email and/or confirmation code were not found in the system."


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def start(user: User) -> None:
    """Give `user` a fresh reset code (replacing any earlier one) and mail it."""
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    expires = timezone.now() + timedelta(minutes=settings.GATEWAY_PASSWORD_RESET_MINUTES)
    User.objects.filter(pk=user.pk).update(confirm_code=_digest(code), confirm_expires=expires)
    body = (
        f"A password reset was requested for {user.email}.\n\n"
        f"Confirmation code: {code}\n\n"
        "Send it with your email and a new password to POST /api/v2/user/password "
        '({"email": ..., "code": ..., "new_password": ...}). '
        f"It expires at {expires:%Y-%m-%d %H:%M} UTC. If you did not ask for this, ignore it."
    )
    try:
        send_mail("Your password reset code", body, None, [user.email])
    except OSError:  # an unreachable mail server must not reveal whether the account exists
        log.exception("password reset: the code for user %s could not be mailed", user.pk)


def redeem(email: str, code: str) -> User:
    """The user whose pending code this is; the code is spent. 400/404 otherwise (as DF)."""
    if not code or code == "y":
        raise BadRequest("Invalid confirmation code.")
    if len(code) != CODE_LENGTH or not code.isalnum():
        raise BadRequest("Invalid confirmation code format.")
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None or not user.confirm_code:
        raise NotFound(BAD_CODE)
    if not hmac.compare_digest(user.confirm_code, _digest(code)):
        raise NotFound(BAD_CODE)
    if user.confirm_expires is None or user.confirm_expires < timezone.now():
        raise BadRequest("Confirmation code expired.")
    spent = User.objects.filter(pk=user.pk, confirm_code=user.confirm_code).update(
        confirm_code="", confirm_expires=None
    )
    if not spent:  # another request used it first
        raise NotFound(BAD_CODE)
    return user
