"""ServiceConfig: the frozen per-request snapshot of a Service row (no ORM on the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from services.models import Service


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    id: int
    name: str
    label: str
    description: str
    is_active: bool
    type: str
    host: str
    port: int
    database: str
    username: str
    password: str
    schema: str
    sslmode: str
    sslrootcert: str
    charset: str
    timezone: str
    application_name: str
    max_records: int
    cache_enabled: bool
    cache_ttl: int
    allow_upsert: bool
    allow_sql: bool
    use_db_roles: bool
    statement_timeout: int
    schema_version: int
    pool_min: int
    pool_max: int

    @classmethod
    def from_model(cls, service: Service) -> ServiceConfig:
        return cls(**{f: getattr(service, f) for f in cls.__dataclass_fields__})

    @property
    def connection_key(self) -> tuple[object, ...]:
        """What the pool depends on: a change here means a new pool."""
        return (
            self.host,
            self.port,
            self.database,
            self.username,
            self.password,
            self.sslmode,
            self.sslrootcert,
            self.timezone,
            self.application_name,
            self.statement_timeout,
            self.pool_min,
            self.pool_max,
        )

    @property
    def effective_max_records(self) -> int:
        """min(service max or 1000, instance cap) (spec §3.9)."""
        own = self.max_records if self.max_records > 0 else 1000
        return min(own, settings.GATEWAY_MAX_RECORDS_CAP)
