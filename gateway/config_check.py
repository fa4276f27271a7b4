"""A configuration file's shape, checked before anything is applied: its format marker, its
sections, each record an object with its key, no record twice, nothing PostgreSQL cannot
store; and how an error names a record (`label`)."""

from __future__ import annotations

import math
from typing import Any

from core.errors import BadRequest
from gateway.config_format import FORMAT, SECTIONS, VERSION, cors_key, lookup_key

# key of each section's records, and the label an error names a record by
_KEYS = {
    "services": ("name", "service"),
    "roles": ("name", "role"),
    "apps": ("name", "app"),
    "users": ("email", "user"),
    "limits": ("name", "limit"),
    "lookups": ("name", "lookup"),
    "cors": ("path", "CORS rule"),
}


def check_document(document: Any) -> dict[str, list[dict[str, Any]]]:
    """The document's sections, after the checks of its shape (400 saying what is wrong)."""
    if not isinstance(document, dict):
        raise BadRequest("A configuration file is a JSON object (as export_config writes it).")
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise BadRequest(
            f'Not a gateway configuration file: expected "format": "{FORMAT}" and '
            f'"version": {VERSION}.'
        )
    unknown = sorted(set(document) - {"format", "version", "secrets", *SECTIONS})
    if unknown:
        raise BadRequest(f"Unknown top-level key(s) {', '.join(unknown)}.")
    if not _storable(document):
        raise BadRequest(
            "A configuration file holds no NaN or Infinity and no NUL character in its text."
        )
    return {section: _section(document, section) for section in SECTIONS}


def _section(document: dict[str, Any], section: str) -> list[dict[str, Any]]:
    """A section's records, each an object with its key, no key twice (400 otherwise)."""
    records = document.get(section, [])
    if not isinstance(records, list):
        raise BadRequest(f"'{section}' must be a list of records.")
    key, what = _KEYS[section]
    seen: set[Any] = set()
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"{section}[{i}] must be an object.")
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise BadRequest(f"{section}[{i}]: a {what} needs '{key}' (a non-empty string).")
        if section == "cors" and not isinstance(record.get("origin"), str):
            raise BadRequest(f"{section}[{i}]: a CORS rule needs 'origin' (a string).")
        ident = _identity(section, record)
        if ident in seen:
            where = label(section, record)
            raise BadRequest(f"{section}[{i}]: {where} appears twice in the file.")
        seen.add(ident)
    return records


def _storable(value: Any) -> bool:
    """No NaN or infinity (Python's JSON reader accepts them) and no NUL in a string
    (PostgreSQL's text cannot hold one) anywhere in the document."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


def _identity(section: str, record: dict[str, Any]) -> Any:
    if section == "lookups":
        return lookup_key(record)
    if section == "cors":
        return cors_key(record)
    if section == "users":
        return record["email"].strip().lower()
    return record[_KEYS[section][0]]


def label(section: str, record: dict[str, Any]) -> str:
    """How an error names a record: `role 'reader'`, `lookup 'x' of app 'mobile'`."""
    if section == "lookups":
        kind, owner, name = lookup_key(record)
        return f"lookup '{name}'" + (f" of {kind} '{owner}'" if kind else "")
    if section == "cors":
        return f"CORS rule '{record['path']}' for '{record['origin']}'"
    return f"{_KEYS[section][1]} '{record[_KEYS[section][0]]}'"
