"""`manage.py export_config [--output FILE] [--secrets omit|encrypted]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import GatewayError
from gateway.config_export import export_config
from gateway.config_format import dumps
from gateway.config_secrets import SECRET_MODES


class Command(BaseCommand):
    help = (
        "Write the gateway's configuration (services, sign-in providers, roles and their rules, "
        "apps without keys, users without passwords and not admins, per-app roles, limits, "
        "lookups, CORS rules) as one JSON file, keyed by name. Secrets are left out unless "
        "--secrets encrypted, which encrypts them with this gateway's GATEWAY_ENCRYPTION_KEY."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="the file to write (default: standard output)")
        parser.add_argument(
            "--secrets",
            choices=SECRET_MODES,
            default="omit",
            help="omit (default): no secret in the file; encrypted: Fernet-encrypted with this "
            "gateway's key, so only a gateway with the same key can import them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = dumps(export_config(options["secrets"]))
        except GatewayError as exc:
            raise CommandError(exc.message, returncode=2) from None
        output = options.get("output")
        if not output:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}", returncode=2) from None
        self.stderr.write(f"Wrote {output}.")
