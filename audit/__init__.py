"""The audit trail (issue #6 item 3, issue #12): one record per /api/ call, never a body, key,
token or password, written off the request path in batches to a store of its own (the database
alias "audit", audit/router.py and audit/store.py), never to the metadata database."""
