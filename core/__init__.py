"""What every layer shares: typed errors, the request context, credentials, response shapes,
the metadata version stamp, DF record conventions and small helpers. Imports nothing above it."""
