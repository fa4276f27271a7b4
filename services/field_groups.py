"""A service's settings in their groups: the admin form, the system API's `config` object and
the pool key (ServiceConfig.connection_key) are all built from these lists."""

INFO_FIELDS = ("name", "label", "description", "is_active")
# what the pool depends on: a change to any of these replaces it
CONNECTION_FIELDS = (
    "host",
    "port",
    "database",
    "username",
    "password",
    "sslmode",
    "sslrootcert",
    "timezone",
    "application_name",
    "statement_timeout",
    "pool_min",
    "pool_max",
)
# (`schema`, between the two, chooses what is served: a change re-reads the schema cache)
# limits and switches: a change reaches the next request, the pool stays
OPTION_FIELDS = (
    "max_records",
    "allow_upsert",
    "allow_sql",
    "use_db_roles",
    "cache_enabled",
    "cache_ttl",
)

# how people write them (the admin form's labels and `config_schema`'s); the rest read well
# from their names ("Max records")
FIELD_LABELS = {
    "sslmode": "SSL mode",
    "sslrootcert": "SSL root certificate",
    "allow_sql": "Allow SQL (_sql)",
    "allow_upsert": "Allow upsert",
    "use_db_roles": "Use database roles",
    "cache_enabled": "Cache enabled",
    "cache_ttl": "Cache TTL",
    "pool_min": "Pool minimum",
    "pool_max": "Pool maximum",
    "statement_timeout": "Statement timeout",
    "application_name": "Application name",
    "is_active": "Active",
}
