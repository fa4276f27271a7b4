"""Stored functions and procedures (`_func`, `_proc`, spec §5): catalog, parameters, results.

catalog.py reads pg_proc into frozen Routine objects; params.py turns the request's parameters
into bound arguments for one resolved overload; results.py shapes what the call returned.
SQL text is composed only in services/sql/routines.py.
"""
