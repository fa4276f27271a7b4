"""Apps and their API keys: arrive with the security issue (#3)."""
