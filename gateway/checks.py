"""System checks for misconfiguration (IDs gateway.E00x errors, gateway.W00x warnings)."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def check_secrets(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.SECRET_KEY == settings.INSECURE_DEFAULT_SECRET_KEY and not settings.DEBUG:
        problems.append(
            Warning(
                "SECRET_KEY is the built-in development key.",
                hint="Set SECRET_KEY in the environment before serving real traffic.",
                id="gateway.W001",
            )
        )
    keys = [k.strip() for k in settings.GATEWAY_ENCRYPTION_KEY.split(",") if k.strip()]
    if not keys:
        problems.append(
            Warning(
                "GATEWAY_ENCRYPTION_KEY is not set; service passwords are encrypted with a key "
                "derived from SECRET_KEY.",
                hint="Generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` and set GATEWAY_ENCRYPTION_KEY.",
                id="gateway.W002",
            )
        )
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            problems.append(
                Error(
                    "GATEWAY_ENCRYPTION_KEY holds a value that is not a Fernet key.",
                    hint="Each comma-separated key must be 32 url-safe base64-encoded bytes.",
                    id="gateway.E001",
                )
            )
    return problems
