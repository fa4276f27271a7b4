"""Schema changes through `_schema`: table and field specs from DF records, the DDL plan for them,
and applying it in transactions."""
