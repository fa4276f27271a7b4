"""Per-service OpenAPI 3.1 documents, built from the schema cache."""
