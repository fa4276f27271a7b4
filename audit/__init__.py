"""The audit trail (issue #6 item 3): one record per /api/ call, never a body, key, token or
password, written off the request path."""
