"""The execute stage and the one way to a service database: the executor (checkout, breaker,
retries, error classification), pools, and what runs each kind of plan (tables, bulk writes,
streams, routines, SQL, schema, listings), plus the data cache."""
