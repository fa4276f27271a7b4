"""ServiceConfig: the frozen per-request snapshot of a Service row (no ORM on the hot path)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings

from lookups.service_config import with_lookups
from services.field_groups import CONNECTION_FIELDS

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
    # why the service cannot serve requests as stored ("" when it can): an undecryptable
    # password, or settings that fail validation (issue #10: one bad row breaks only itself)
    problem: str = ""

    @classmethod
    def from_model(cls, service: Service) -> ServiceConfig:
        fields = {f: getattr(service, f) for f in cls.__dataclass_fields__ if f != "problem"}
        fields = with_lookups(fields)  # `"password": "{db_password}"` (spec §9.3)
        return cls(**fields, problem=service.problem())

    @classmethod
    def unusable(cls, service_id: int, name: str, problem: str) -> ServiceConfig:
        """A row that could not even be read: only its identity and what is wrong with it."""
        return cls(
            id=service_id,
            name=name,
            label=name,
            description="",
            is_active=True,
            type="pgsql",
            host="",
            port=5432,
            database="",
            username="",
            password="",
            schema="",
            sslmode="prefer",
            sslrootcert="",
            charset="utf8",
            timezone="",
            application_name="",
            max_records=1000,
            cache_enabled=False,
            cache_ttl=0,
            allow_upsert=False,
            allow_sql=False,
            use_db_roles=False,
            statement_timeout=0,
            schema_version=0,
            pool_min=0,
            pool_max=1,
            problem=problem,
        )

    @property
    def connection_key(self) -> tuple[object, ...]:
        """What the pool depends on: a change here means a new pool."""
        return tuple(getattr(self, name) for name in CONNECTION_FIELDS)

    @property
    def effective_max_records(self) -> int:
        """min(service max or 1000, instance cap) (spec §3.9)."""
        own = self.max_records if self.max_records > 0 else 1000
        cap: int = settings.GATEWAY_MAX_RECORDS_CAP
        return min(own, cap)
