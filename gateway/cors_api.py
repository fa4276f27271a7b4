"""System API for CORS records: `/api/v2/system/cors` (spec §9.2, applied as §12.1 says by
gateway/cors.py). `method` is answered as a list of verbs and taken as a list, a
comma-separated string or DF's verb mask."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from core.errors import BadRequest
from core.models import CorsRule
from core.system_records import RecordResource, views_for
from core.verbs import ALL_VERBS, mask_of, verb_names
from gateway.cors import compile_path

NO_PATH = "No path specified. Use * to apply to all api paths."
NO_ORIGIN = "No origin specified. Use * to allow every origin."

# The fields a client writes; a record adds its id and timestamps.
_FIELDS = (
    "path",
    "description",
    "origin",
    "header",
    "exposed_header",
    "method",
    "max_age",
    "supports_credentials",
    "enabled",
)


class CorsSerializer(serializers.ModelSerializer[CorsRule]):
    class Meta:
        model = CorsRule
        fields = _FIELDS


def _mask(value: Any) -> int:
    """`method` as DF takes it: a list of verbs, "GET,POST", or the mask itself."""
    if isinstance(value, bool):
        raise BadRequest('method must be a list of verbs such as ["GET", "POST"].')
    if isinstance(value, int):
        if not 0 <= value <= ALL_VERBS:
            raise BadRequest(f"method mask {value} is out of range (0 to {ALL_VERBS}).")
        return value
    if isinstance(value, str):
        value = value.split(",") if value.strip() else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest('method must be a list of verbs such as ["GET", "POST"].')
    try:
        return mask_of(v.strip() for v in value if v.strip())
    except ValueError as exc:
        raise BadRequest(f"method: {exc}") from None


def _text(value: Any, name: str) -> str:
    """A comma-separated list field: a string, or a list of strings joined."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(v.strip() for v in value if v.strip())
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string (a comma-separated list).")
    return value


class CorsResource(RecordResource):
    """CORS records in DF's shape."""

    model = CorsRule
    serializer = CorsSerializer
    record_fields = ("id", *_FIELDS, "created_date", "last_modified_date")

    def to_record(self, obj: CorsRule, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record["method"] = verb_names(obj.method)
        return record

    def write(
        self, record: dict[str, Any], instance: CorsRule | None, request: Request
    ) -> CorsRule:
        fields = self.writable(record)
        for name in ("origin", "header", "exposed_header", "description"):
            if name in fields:
                fields[name] = _text(fields[name], name)
        if "method" in fields:
            fields["method"] = _mask(fields["method"])
        if fields.get("header") == "":
            fields["header"] = "*"  # DF: an empty header list means any header
        for name in ("max_age", "supports_credentials", "enabled"):
            if name in fields and fields[name] is None:
                fields.pop(name)
        _required(fields, instance)
        rule: CorsRule = self.validated(fields, instance)
        rule.save()
        return rule


def _required(fields: dict[str, Any], instance: CorsRule | None) -> None:
    """`path` and `origin` are required and never blanked; a `^` path must be a valid regex."""
    path = fields.get("path", instance.path if instance is not None else None)
    if not isinstance(path, str) or not path.strip():
        raise BadRequest(NO_PATH)
    origin = fields.get("origin", instance.origin if instance is not None else None)
    if not isinstance(origin, str) or not origin.strip():
        raise BadRequest(NO_ORIGIN)
    try:
        compile_path(path)
    except re.error as exc:
        raise BadRequest(f"path '{path}' is not a valid regular expression: {exc}.") from None


cors_collection, cors_detail = views_for(CorsResource(), "Cors")
