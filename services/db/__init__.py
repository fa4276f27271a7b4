"""Connections to a served database: pools, the one executor, the breaker, error mapping."""
