"""Service: a namespace plus the settings to reach one PostgreSQL database (spec §9.3).

Saving or deleting a service bumps the metadata version so every process drops its pools and
schema cache for it (see services/registry.py).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from services.fields import EncryptedTextField, UnreadableSecret

NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
# Names the gateway itself serves under /api/v2/, or that DreamFactory reserves.
RESERVED_NAMES = frozenset(
    {"system", "user", "api_docs", "admin", "api", "static", "health", "ready", "metrics", "docs"}
)
SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
MASKED_PASSWORD = "**********"  # noqa: S105
DATABASE_TYPE = "pgsql"  # the type served at /api/v2/<name>/; the others are sign-in providers


class ServiceQuerySet(models.QuerySet["Service"]):
    def databases(self) -> ServiceQuerySet:
        """The database services (not the sign-in providers, which share the table)."""
        return self.filter(type=DATABASE_TYPE)


def validate_service_name(value: str) -> None:
    """Namespaces are lower-case `[a-z0-9_]` and not a reserved word."""
    if not NAME_PATTERN.match(value or ""):
        raise ValidationError(
            "Service name should only contain lower-case letters, numbers and underscores."
        )
    if value in RESERVED_NAMES:
        raise ValidationError(f"Service name '{value}' is reserved; choose another name.")


class Service(models.Model):
    """A registered PostgreSQL database served at /api/v2/<name>/, or (another `type`) a sign-in
    provider whose settings live in rbac (rbac.models.Provider): names and ids are shared, as
    in DreamFactory's `system/service`."""

    name = models.CharField(
        max_length=40, unique=True, validators=[validate_service_name], help_text="URL namespace"
    )
    label = models.CharField(max_length=80, blank=True)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    type = models.CharField(max_length=40, default=DATABASE_TYPE, editable=False)

    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(
        default=5432, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    database = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True, default="")
    schema = models.CharField(max_length=255, default="public", help_text="database schema served")
    sslmode = models.CharField(max_length=16, choices=[(m, m) for m in SSL_MODES], default="prefer")
    sslrootcert = models.CharField(max_length=1024, blank=True)
    charset = models.CharField(max_length=32, blank=True, default="utf8")
    timezone = models.CharField(max_length=64, blank=True)
    application_name = models.CharField(max_length=64, blank=True, default="pg-gateway")

    max_records = models.PositiveIntegerField(
        default=1000, help_text="largest page a request may read (capped instance-wide)"
    )
    cache_enabled = models.BooleanField(default=False)
    cache_ttl = models.PositiveIntegerField(default=0, help_text="seconds")
    allow_upsert = models.BooleanField(default=False)
    allow_sql = models.BooleanField(
        default=False,
        help_text="Allow POST /_sql: parameterised SQL (read-only unless the role may write)",
    )
    use_db_roles = models.BooleanField(
        default=False,
        help_text="Run each non-admin request in a transaction as the caller's role's database "
        "role (SET LOCAL ROLE) with its claims in request.jwt.claims, so PostgreSQL row-level "
        "security and grants apply per user",
    )
    statement_timeout = models.PositiveIntegerField(
        default=30_000, help_text="milliseconds; 0 disables"
    )
    schema_version = models.PositiveIntegerField(
        default=0, editable=False, help_text="bumped by _schema changes so every process re-reads"
    )
    pool_min = models.PositiveIntegerField(default=1)
    pool_max = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])

    created_date = models.DateTimeField(auto_now_add=True)
    last_modified_date = models.DateTimeField(auto_now=True)

    objects = ServiceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.label:
            self.label = self.name
        super().save(*args, **kwargs)

    @property
    def is_database(self) -> bool:
        return self.type == DATABASE_TYPE

    def problem(self) -> str:
        """Why this service cannot serve requests as stored ("" when it can)."""
        if isinstance(self.password, UnreadableSecret):
            return (
                "the stored password cannot be decrypted with the configured "
                "GATEWAY_ENCRYPTION_KEY (it was written under another key); re-enter it in the "
                f"admin console or with PATCH /api/v2/system/service/{self.pk}"
            )
        try:
            # "schema" may be blank: a service over every schema
            self.clean_fields(exclude=["name", "label", "description", "password", "schema"])
            self.clean()
        except ValidationError as exc:
            found = "; ".join(
                f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
                for field, messages in exc.message_dict.items()
            )
            return f"its stored settings are invalid ({found}); correct them"
        return ""

    def clean(self) -> None:
        if self.pool_min > self.pool_max:
            raise ValidationError({"pool_min": "pool_min may not exceed pool_max."})
        if self.is_database and (not self.host or not self.database):
            raise ValidationError(
                "Database connection information must contain at least host and database name."
            )
