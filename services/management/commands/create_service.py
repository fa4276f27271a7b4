"""`manage.py create_service`: register (or, with --update, change) a PostgreSQL service.

The password is never a plain argument (it would land in shell history and `ps`): it comes from
an environment variable (--password-env) or standard input (--password-stdin). Never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from services.models import SSL_MODES, Service

# option dest -> model field, for the plain settings copied as given
FIELD_OPTIONS = {
    "host": "host",
    "port": "port",
    "database": "database",
    "username": "username",
    "schema": "schema",
    "sslmode": "sslmode",
    "label": "label",
    "description": "description",
    "max_records": "max_records",
}
REQUIRED_ON_CREATE = ("host", "database", "username")


def describe(service: Service) -> str:
    """One line about a service, without its password."""
    who = f"{service.username}@" if service.username else ""
    state = "" if service.is_active else ", inactive"
    return (
        f"'{service.name}' (id {service.pk}): {who}{service.host}:{service.port}/"
        f"{service.database}, schema {service.schema}, sslmode {service.sslmode}{state}"
    )


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        parts: list[str] = []
        for field, messages in exc.message_dict.items():
            label = "" if field == "__all__" else f"{field}: "
            parts.extend(f"{label}{message}" for message in messages)
        return "; ".join(parts)
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Register a PostgreSQL database as a service served at /api/v2/<name>/, or change one "
        "with --update. Pass the password with --password-env VAR or --password-stdin."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="service name (the URL namespace): [a-z0-9_]+")
        parser.add_argument("--host", help="server host name, address or unix-socket directory")
        parser.add_argument("--port", type=int, help="server port (default 5432)")
        parser.add_argument("--database", help="database name")
        parser.add_argument("--username", help="database user")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument(
            "--password-env", metavar="VAR", help="read the password from environment variable VAR"
        )
        secret.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        # accepted only to refuse it with a clear message (and without echoing the value)
        parser.add_argument("--password", dest="plain_password", help=argparse.SUPPRESS)
        parser.add_argument("--schema", help="database schema served (default public)")
        parser.add_argument("--sslmode", choices=SSL_MODES, help="libpq sslmode (default prefer)")
        parser.add_argument("--label", help="display name (default: the name)")
        parser.add_argument("--description", help="free text")
        parser.add_argument(
            "--max-records", type=int, help="largest page a request may read (default 1000)"
        )
        state = parser.add_mutually_exclusive_group()
        state.add_argument(
            "--inactive", action="store_true", help="register it switched off (answers 403)"
        )
        state.add_argument("--active", action="store_true", help="switch it on (with --update)")
        parser.add_argument(
            "--update", action="store_true", help="change an existing service instead of creating"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        if options.get("plain_password") is not None:
            raise CommandError(
                "Passwords are not taken as arguments (they would show in shell history and "
                "`ps`); use --password-env VAR or --password-stdin."
            )
        if options["update"]:
            # the stored password stays unread unless replaced (it may predate a key rotation)
            service = Service.objects.defer("password").filter(name=name).first()
            if service is None:
                raise CommandError(f"No service named '{name}'; drop --update to create it.")
            if not service.is_database:
                raise CommandError(
                    f"'{name}' is a {service.type} sign-in provider, not a database service; "
                    "change it in the admin console or with PATCH /api/v2/system/service."
                )
        else:
            if Service.objects.filter(name=name).exists():
                raise CommandError(
                    f"A service named '{name}' already exists; pass --update to change it."
                )
            missing = [f"--{opt}" for opt in REQUIRED_ON_CREATE if not options.get(opt)]
            if missing:
                raise CommandError(f"Missing {', '.join(missing)} to create service '{name}'.")
            service = Service(name=name)

        for option, field in FIELD_OPTIONS.items():
            if options.get(option) is not None:
                setattr(service, field, options[option])
        if options["inactive"]:
            service.is_active = False
        elif options["active"]:
            service.is_active = True
        password = self.read_password(options)
        if password is not None:
            service.password = password

        try:
            service.full_clean(exclude=list(service.get_deferred_fields()))
        except ValidationError as exc:
            raise CommandError(f"Invalid service '{name}': {validation_message(exc)}") from None
        created = service.pk is None
        service.save()
        self.stdout.write(f"{'Created' if created else 'Updated'} service {describe(service)}")

    def read_password(self, options: dict[str, Any]) -> str | None:
        """The password from --password-env / --password-stdin, or None when not given."""
        variable = options.get("password_env")
        if variable:
            if variable not in os.environ:
                raise CommandError(f"--password-env: environment variable {variable} is not set.")
            return os.environ[variable]
        if options.get("password_stdin"):
            stream = options.get("stdin") or sys.stdin
            line = stream.readline()
            if not line:
                raise CommandError("--password-stdin: nothing to read on standard input.")
            return line.rstrip("\r\n")
        return None
