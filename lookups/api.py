"""System API for global lookups: `/api/v2/system/lookup` (spec §7.6, §9.2).

Records are `{id, name, value, private, description}`; app, role and user lookups go through
the related lists of those records (lookups/records.py).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from core.system_records import RecordResource, views_for
from lookups.models import Lookup
from lookups.records import FIELDS, lookup_fields, lookup_record, system_lookups


class LookupSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lookup
        fields = FIELDS


class LookupResource(RecordResource):
    model = Lookup
    serializer = LookupSerializer
    record_fields = ("id", *FIELDS, "created_date", "last_modified_date")

    def queryset(self) -> Any:
        return system_lookups().order_by("id")

    def to_record(self, obj: Lookup, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record.update(lookup_record(obj))
        return record

    def write(self, record: dict[str, Any], instance: Lookup | None, request: Request) -> Lookup:
        lookup = instance if instance is not None else Lookup()
        for name, value in lookup_fields(record, instance, system_lookups()).items():
            setattr(lookup, name, value)
        lookup.save()
        return lookup


lookup_collection, lookup_detail = views_for(LookupResource(), "Lookup")
