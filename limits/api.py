"""System API for rate limits: `/api/v2/system/limit` and `/api/v2/system/limit_cache`
(spec §10). Records show the period by name; requests may send the name or its number."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BadRequest, NotFound
from core.flags import as_bool
from core.system_records import RecordResource, views_for
from limits import counters
from limits.models import LIMIT_TYPES, PERIODS, Limit
from limits.rules import LimitRule, active, clear_cache, normalize_endpoint
from rbac.models import Role, User
from services.models import Service

COUNTERS = "limit_cache_by_limit_id"
_VERBS = ("", "GET", "POST", "PUT", "PATCH", "DELETE")
# what each segment of a type needs (spec §10: "user_id must be specified with this limit type")
_NEEDS = {"user": "user_id", "role": "role_id", "service": "service_id", "endpoint": "endpoint"}


class LimitSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(allow_null=True, required=False)
    role_id = serializers.IntegerField(allow_null=True, required=False)
    service_id = serializers.IntegerField(allow_null=True, required=False)

    class Meta:
        model = Limit
        fields = (
            "name",
            "description",
            "type",
            "rate",
            "period",
            "user_id",
            "role_id",
            "service_id",
            "endpoint",
            "verb",
            "is_active",
        )


def _period(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in PERIODS:
        return PERIODS.index(value.strip().lower())
    return value


def check_limit(limit: Limit) -> None:
    """The spec's checks on a whole limit; 400s say what to fix."""
    name = limit.name
    if limit.type not in LIMIT_TYPES:
        raise BadRequest(f"Invalid limit type '{limit.type}'; use one of {', '.join(LIMIT_TYPES)}.")
    if not isinstance(limit.rate, int) or limit.rate < 1:
        raise BadRequest(f"rate must be a positive integer. Limit: {name}")
    segments = limit.type.split(".")[1:]
    for segment, field in _NEEDS.items():
        needed = segment in segments
        value = getattr(limit, field)
        if needed and not value:
            raise BadRequest(f"{field} must be specified with this limit type. Limit: {name}")
        if not needed and value and field != "endpoint":
            raise BadRequest(f"{field} does not apply to limit type '{limit.type}'. Limit: {name}")
    for field in ("user_id", "role_id", "service_id"):
        value = getattr(limit, field)
        if value is not None and not _exists(field, value):
            raise BadRequest(f"{field} {value} does not exist. Limit: {name}")
    limit.verb = (limit.verb or "").upper()
    if limit.verb not in _VERBS:
        raise BadRequest(f"verb must be one of GET, POST, PUT, PATCH, DELETE. Limit: {name}")
    limit.endpoint = normalize_endpoint(limit.endpoint or "") if "endpoint" in segments else ""
    scope: dict[str, Any] = {  # None matches no user/role/service, as the stored rows have
        "user_id": limit.user_id,
        "role_id": limit.role_id,
        "service_id": limit.service_id,
    }
    same = Limit.objects.filter(
        type=limit.type, period=limit.period, endpoint=limit.endpoint, verb=limit.verb, **scope
    ).exclude(pk=limit.pk)
    if same.exists():
        raise BadRequest("A limit already exists with those parameters. No records added.")


def _exists(field: str, value: int) -> bool:
    if field == "user_id":
        return User.objects.filter(pk=value).exists()
    if field == "role_id":
        return Role.objects.filter(pk=value).exists()
    return Service.objects.databases().filter(pk=value).exists()


def _rule(limit: Limit) -> LimitRule | None:
    return next((r for r in active() if r.id == limit.pk), None)


def counter_records(rule: LimitRule) -> list[dict[str, Any]]:
    """The limit_cache entries of one limit: {id, key, max, attempts, remaining}."""
    return [
        {
            "id": rule.id,
            "key": f"{rule.type}:{rule.id}:{subject}.{rule.period_name}",
            "max": rule.rate,
            "attempts": attempts,
            "remaining": max(0, rule.rate - attempts),
        }
        for subject, attempts in counters.current(rule)
    ]


class LimitResource(RecordResource):
    model = Limit
    serializer = LimitSerializer
    record_fields = (
        "id",
        "type",
        "key_text",
        "rate",
        "period",
        "user_id",
        "role_id",
        "service_id",
        "endpoint",
        "verb",
        "name",
        "description",
        "is_active",
        "created_date",
        "last_modified_date",
    )
    related_names = (COUNTERS,)

    def to_record(self, obj: Limit, related: frozenset[str]) -> dict[str, Any]:
        record = super().to_record(obj, related)
        record["period"] = obj.period_name
        record["endpoint"] = obj.endpoint or None  # stored "" means every endpoint
        record["verb"] = obj.verb or None
        if COUNTERS in related:
            rule = _rule(obj)
            record[COUNTERS] = counter_records(rule) if rule else []
        return record

    def write(self, record: dict[str, Any], instance: Limit | None, request: Request) -> Limit:
        fields = self.writable(record)
        if "period" in fields:
            fields["period"] = _period(fields["period"])
        for key in ("endpoint", "verb", "description"):
            if key in fields and fields[key] is None:
                fields[key] = ""
        limit: Limit = self.validated(fields, instance)
        check_limit(limit)
        limit.save()
        return limit


limit_collection, limit_detail = views_for(LimitResource(), "Limit")


class LimitCacheView(APIView):
    """GET the counters of every active limit; DELETE ?force=true resets them all."""

    def _rules(self) -> tuple[LimitRule, ...]:
        clear_cache()  # admins see limits saved a moment ago, not this process's snapshot
        return active()

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"resource": [c for r in self._rules() for c in counter_records(r)]})

    @extend_schema(responses={200: dict})
    def delete(self, request: Request) -> Response:
        if not as_bool(request.query_params.get("force", "")):
            raise BadRequest("Name a limit (limit_cache/{id}), or send force=true to reset all.")
        counters.reset_everywhere(list(self._rules()))
        return Response({"success": True})


class LimitCacheDetail(APIView):
    """GET one limit's counters; DELETE resets them."""

    def _rule(self, pk: str) -> LimitRule:
        clear_cache()
        rule = next((r for r in active() if str(r.id) == pk), None)
        if rule is None:
            raise NotFound(f"Record with identifier '{pk}' not found.")
        return rule

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: str) -> Response:
        return Response({"resource": counter_records(self._rule(pk))})

    @extend_schema(responses={200: dict})
    def delete(self, request: Request, pk: str) -> Response:
        rule = self._rule(pk)
        counters.reset_everywhere([rule])
        return Response({"id": rule.id})
