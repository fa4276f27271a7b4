"""`user/custom`: the logged-in user's own name/value settings (DF's df-user Custom resource).

GET lists `{"resource": [{"name", "value"}]}`; GET `custom/{name}` answers the bare value;
POST (PUT and PATCH alike) takes a record list and creates or replaces each name; DELETE
`custom/{name}`, or `?ids=a,b` (names), removes them. Values are any JSON.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import BadRequest, NotFound
from core.records import NO_RECORDS, records_from_body
from rbac.models import UserCustom
from rbac.user_service import UserServiceView, current_user

MAX_NAME = 255


def _record(item: UserCustom) -> dict[str, Any]:
    return {"name": item.name, "value": item.value}


def _names(value: Any) -> list[str]:
    return [n.strip() for n in str(value or "").split(",") if n.strip()]


class CustomView(UserServiceView):
    resource_path = "user/custom"

    @extend_schema(responses={200: dict})
    def get(self, request: Request, name: str = "") -> Response:
        user = current_user(request)
        if name:
            item = user.custom.filter(name=name).first()
            if item is None:
                raise NotFound(f"Record with identifier '{name}' not found.")
            return Response(item.value)
        items = user.custom.order_by("id")
        wanted = _names(request.query_params.get("ids"))
        if wanted:
            items = items.filter(name__in=wanted)
        return Response({"resource": [_record(i) for i in items]})

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request: Request, name: str = "") -> Response:
        user = current_user(request)
        if name:
            raise BadRequest(f"{request.method} takes a record list on 'user/custom', not a name.")
        records = records_from_body(request.data)
        if not records:
            raise BadRequest(NO_RECORDS)
        checked: list[tuple[str, Any]] = []
        for index, record in enumerate(records):
            key = record.get("name") if isinstance(record, dict) else None
            if not isinstance(key, str) or not key.strip() or len(key) > MAX_NAME:
                raise BadRequest(f"Record {index}: 'name' must be a string of 1 to 255 characters.")
            checked.append((key.strip(), record.get("value")))
        try:
            with transaction.atomic():
                for key, value in checked:
                    UserCustom.objects.update_or_create(
                        user=user, name=key, defaults={"value": value}
                    )
        except IntegrityError:  # the same name written by a concurrent request
            raise BadRequest("A custom setting was written concurrently; try again.") from None
        status = 201 if request.method == "POST" else 200
        return Response({"resource": [{"name": key} for key, _ in checked]}, status=status)

    put = patch = post

    @extend_schema(responses={200: dict})
    def delete(self, request: Request, name: str = "") -> Response:
        user = current_user(request)
        names = [name] if name else _names(request.query_params.get("ids"))
        if not names:
            raise BadRequest("No filter or records given for delete request.")
        found = set(user.custom.filter(name__in=names).values_list("name", flat=True))
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFound(f"Record with identifier '{missing[0]}' not found.")
        user.custom.filter(name__in=names).delete()
        if name:
            return Response({"name": name})
        return Response({"resource": [{"name": n} for n in names]})
