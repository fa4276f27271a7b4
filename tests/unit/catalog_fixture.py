"""A hand-built service for the database-free pipeline tests (parse -> bind -> compile).

Mirrors what introspection would load for a small shop database:

    customers(id serial pk, name text not null, email text unique, created timestamptz)
    orders(id serial pk, customer_id int -> customers.id, total numeric(10,2), status text)
    active_customers: a view over customers (read-only, no primary key)
    "Table With Space"("ID" int pk, "Mixed Case" text, a text column named: say "hi"

and its routines: add_numbers(a int, b int) (overloaded with a three-argument form), a
set-returning customer_orders(p_customer_id int) and a procedure archive_orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.verbs import GET
from services.catalog.routines import (
    ResultShape,
    ReturnColumn,
    Routine,
    RoutineCatalog,
    RoutineKind,
    RoutineParam,
)
from services.catalog.schema_cache import Column, Relation, SchemaCache, Table
from services.config import ServiceConfig

SCHEMA = "public"

# base type -> (format_type text, pg_type.typcategory, DF simple type)
_TYPES: dict[str, tuple[str, str, str]] = {
    "int4": ("integer", "N", "integer"),
    "text": ("text", "S", "text"),
    "numeric": ("numeric(10,2)", "N", "decimal"),
    "timestamptz": ("timestamp with time zone", "D", "timestamp"),
    "bool": ("boolean", "B", "boolean"),
}


def column(
    name: str,
    position: int,
    base_type: str,
    *,
    nullable: bool = True,
    default: str | None = None,
    pk: bool = False,
    serial: bool = False,
    unique: bool = False,
) -> Column:
    """A column as introspection builds it (serial: an int with a nextval default)."""
    db_type, category, simple = _TYPES[base_type]
    return Column(
        name=name,
        position=position,
        db_type=db_type,
        base_type=base_type,
        category=category,
        nullable=nullable,
        default=default,
        is_primary_key=pk,
        auto_increment=serial,
        is_generated=False,
        is_unique=unique or pk,
        length=None,
        precision=10 if base_type == "numeric" else None,
        scale=2 if base_type == "numeric" else None,
        simple_type="id" if pk and serial else simple,
    )


def _serial_id(table: str) -> Column:
    return column(
        "id",
        1,
        "int4",
        nullable=False,
        default=f"nextval('{table}_id_seq'::regclass)",
        pk=True,
        serial=True,
    )


ORDERS_OF_CUSTOMER = Relation(
    name="orders_by_customer_id",
    type="has_many",
    fields=("id",),
    ref_table="orders",
    ref_fields=("customer_id",),
    constraint="orders_customer_id_fkey",
)
CUSTOMER_OF_ORDER = Relation(
    name="customers_by_customer_id",
    type="belongs_to",
    fields=("customer_id",),
    ref_table="customers",
    ref_fields=("id",),
    constraint="orders_customer_id_fkey",
)

CUSTOMERS = Table(
    name="customers",
    schema=SCHEMA,
    db_name="customers",
    is_view=False,
    columns=(
        _serial_id("customers"),
        column("name", 2, "text", nullable=False),
        column("email", 3, "text", unique=True),
        column("created", 4, "timestamptz", default="now()"),
    ),
    primary_key=("id",),
    relations=(ORDERS_OF_CUSTOMER,),
)

ORDERS = Table(
    name="orders",
    schema=SCHEMA,
    db_name="orders",
    is_view=False,
    columns=(
        _serial_id("orders"),
        column("customer_id", 2, "int4"),
        column("total", 3, "numeric"),
        column("status", 4, "text"),
    ),
    primary_key=("id",),
    relations=(CUSTOMER_OF_ORDER,),
)

ACTIVE_CUSTOMERS = Table(
    name="active_customers",
    schema=SCHEMA,
    db_name="active_customers",
    is_view=True,
    columns=(column("id", 1, "int4"), column("name", 2, "text")),
    primary_key=(),
    verbs=GET,
)

QUOTED_COLUMN = 'say "hi"'

SPACED = Table(
    name="Table With Space",
    schema=SCHEMA,
    db_name="Table With Space",
    is_view=False,
    columns=(
        column("ID", 1, "int4", nullable=False, pk=True),
        column("Mixed Case", 2, "text"),
        column(QUOTED_COLUMN, 3, "text"),
    ),
    primary_key=("ID",),
)

TABLES: tuple[Table, ...] = (CUSTOMERS, ORDERS, ACTIVE_CUSTOMERS, SPACED)


def schema_cache() -> SchemaCache:
    """The service's tables, keyed by lower-cased API name (as introspection keys them)."""
    return SchemaCache(tables={t.name.lower(): t for t in TABLES}, server_version=160000)


# --- routines --------------------------------------------------------------------------------


def param(
    name: str,
    position: int,
    base_type: str = "int4",
    *,
    mode: str = "IN",
    default: str | None = None,
) -> RoutineParam:
    db_type, category, _simple = _TYPES[base_type]
    return RoutineParam(
        name=name,
        position=position,
        mode=mode,
        db_type=db_type.split("(")[0],  # format_type(t, NULL) has no typmod
        type_schema="pg_catalog",
        type_name=base_type,
        typtype="b",
        category=category,
        base_type=base_type,
        default=default,
        has_default=default is not None,
    )


def routine(
    name: str,
    kind: RoutineKind,
    params: tuple[RoutineParam, ...],
    *,
    returns: str = "integer",
    shape: ResultShape = "scalar",
    returns_set: bool = False,
    return_simple_type: str = "integer",
) -> Routine:
    return Routine(
        name=name,
        schema=SCHEMA,
        db_name=name,
        kind=kind,
        params=params,
        returns_set=returns_set,
        shape=shape,
        return_db_type=returns,
        return_simple_type=return_simple_type,
        return_columns=tuple(
            ReturnColumn(p.name, p.db_type, p.simple_type) for p in params if p.is_output
        ),
        description=None,
        signature=", ".join(f"{p.name} {p.db_type}" for p in params if p.is_input),
    )


ADD_TWO = routine("add_numbers", "function", (param("a", 1), param("b", 2)))
ADD_THREE = routine("add_numbers", "function", (param("a", 1), param("b", 2), param("c", 3)))
CUSTOMER_ORDERS = routine(
    "customer_orders",
    "function",
    (
        param("p_customer_id", 1),
        param("order_id", 2, mode="TABLE"),
        param("total", 3, "numeric", mode="TABLE"),
    ),
    returns="record",
    shape="row",
    returns_set=True,
    return_simple_type="string",
)
ARCHIVE_ORDERS = routine(
    "archive_orders",
    "procedure",
    (param("p_before", 1, "timestamptz"), param("archived", 2, mode="OUT")),
    returns="record",
)


def routine_catalog() -> RoutineCatalog:
    return RoutineCatalog(
        routines={
            "function": {
                "add_numbers": (ADD_TWO, ADD_THREE),
                "customer_orders": (CUSTOMER_ORDERS,),
            },
            "procedure": {"archive_orders": (ARCHIVE_ORDERS,)},
        }
    )


# --- the service ---------------------------------------------------------------------------


def service_config(**overrides: Any) -> ServiceConfig:
    """The `shop` service as a registered, usable row would snapshot it."""
    config = ServiceConfig(
        id=1,
        name="shop",
        label="Shop",
        description="The shop database",
        is_active=True,
        type="pgsql",
        host="127.0.0.1",
        port=5432,
        database="shop",
        username="gateway",
        password="not-a-real-password",
        schema=SCHEMA,
        sslmode="prefer",
        sslrootcert="",
        charset="utf8",
        timezone="",
        application_name="pg-gateway",
        max_records=1000,
        cache_enabled=False,
        cache_ttl=0,
        allow_upsert=False,
        allow_sql=False,
        use_db_roles=False,
        statement_timeout=0,
        schema_version=1,
        pool_min=0,
        pool_max=4,
    )
    return replace(config, **overrides)


@dataclass
class FakeCatalogs:
    """The `Catalogs` protocol of services.plan.bind over the hand-built catalogs; counts the
    refreshes asked for so a test can see `refresh=true` reach the catalog."""

    config: ServiceConfig = field(default_factory=service_config)
    schema_cache: SchemaCache = field(default_factory=schema_cache)
    routine_catalog: RoutineCatalog = field(default_factory=routine_catalog)
    refreshes: list[str] = field(default_factory=list)

    def schema(self, *, refresh: bool = False) -> SchemaCache:
        if refresh:
            self.refreshes.append("schema")
        return self.schema_cache

    def routines(self, *, refresh: bool = False) -> RoutineCatalog:
        if refresh:
            self.refreshes.append("routines")
        return self.routine_catalog
