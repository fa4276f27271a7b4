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
