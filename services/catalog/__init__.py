"""What a service's database holds: introspection into a frozen schema cache that follows outside
changes, DF's descriptions of tables and fields, and the routine catalog. Talks to the database
only through services/db/executor.py."""
