"""DreamFactory's record conventions for the system API (spec §9.1), shared by roles, apps and
users: list answers wrapped in `resource`, list bodies for POST (201, ids only unless
`fields`), PATCH/PUT as partial updates, DELETE by id or `ids`, `related` lists.

A RecordResource says how one model maps to records and how a record is validated and saved;
the two views here do the HTTP side. Every write runs in one transaction: a batch that fails on
any record writes nothing (DF's `rollback=true`), and the error names the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import as_gateway_error
from core.errors import BadRequest, GatewayError, NotFound
from core.flags import as_bool
from core.records import NO_RECORDS, records_from_body


class RecordResource:
    """One system resource: subclasses set `model`, `serializer` (validates the writable
    fields), `record_fields` (the record's keys, read from the attributes of the same name)
    and implement write(); to_record() is extended for related or computed keys."""

    model: ClassVar[type[models.Model]]
    serializer: ClassVar[type[serializers.ModelSerializer]]
    record_fields: ClassVar[tuple[str, ...]] = ()
    related_names: ClassVar[tuple[str, ...]] = ()

    def queryset(self) -> models.QuerySet[Any]:
        return self.model._default_manager.all()

    def get(self, pk: Any) -> Any:
        try:
            return self.queryset().get(pk=int(pk))
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise NotFound(f"Record with identifier '{pk}' not found.") from None

    def to_record(self, obj: Any, related: frozenset[str]) -> dict[str, Any]:
        """The object's `record_fields` in order (`id` is the primary key, times in ISO 8601)."""
        return {
            name: _plain(getattr(obj, "pk" if name == "id" else name))
            for name in self.record_fields
        }

    def writable(self, record: dict[str, Any]) -> dict[str, Any]:
        """The keys of `record` the serializer validates (the rest are read-only or unknown)."""
        return {k: record[k] for k in self.serializer.Meta.fields if k in record}

    def prepare(self, record: dict[str, Any], instance: Any | None) -> dict[str, Any]:
        """Slow work on a record (hashing a password) before its transaction begins, so no
        write transaction holds the metadata database while the CPU is busy."""
        return record

    def write(self, record: dict[str, Any], instance: Any | None, request: Request) -> Any:
        """Validate and save one record (create when `instance` is None); 400 on bad input."""
        raise NotImplementedError

    def remove(self, obj: Any) -> None:
        obj.delete()

    def may_patch_empty(self, request: Request) -> bool:
        """Whether a PATCH without fields means something (an app's `?regenerate=true`)."""
        return False

    def write_extras(self, obj: Any, request: Request) -> dict[str, Any]:
        """Fields every write answer carries (an app's new key, shown once)."""
        return {}

    def validated(self, fields: dict[str, Any], instance: Any | None) -> Any:
        """`instance` (or a new object) with `fields` validated by the serializer and set on
        it, not saved yet: create when `instance` is None, partial update otherwise."""
        data = valid(self.serializer(instance, data=fields, partial=instance is not None))
        obj = instance if instance is not None else self.model()
        for key, value in data.items():
            setattr(obj, key, value)
        return obj


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def valid(serializer: serializers.Serializer[Any], where: str = "") -> dict[str, Any]:
    """The serializer's validated data, or a 400 naming the record and the fields."""
    if not serializer.is_valid():
        error = as_gateway_error(serializers.ValidationError(serializer.errors))
        if error is not None and where:
            error.message = f"{where}: {error.message}"
        raise error or BadRequest("Validation failed.")
    return dict(serializer.validated_data)


def names(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    return frozenset(v.strip() for v in str(value).split(",") if v.strip())


def _ids(value: Any) -> list[int]:
    try:
        return [int(v) for v in names(value)]
    except ValueError:
        raise BadRequest("ids must be a comma-separated list of integers.") from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise BadRequest(f"{name} must be an integer.") from None


class _Options:
    """fields/related from the query string (or a tunnelled body)."""

    def __init__(self, request: Request, resource: RecordResource) -> None:
        self.fields = names(request.query_params.get("fields"))
        related = names(request.query_params.get("related"))
        if "*" in related:
            related = frozenset(resource.related_names)
        unknown = sorted(related - set(resource.related_names))
        if unknown:
            known = ", ".join(resource.related_names) or "none"
            raise BadRequest(f"Unknown related list '{unknown[0]}'; this resource has: {known}.")
        self.related = related

    def shape(self, record: dict[str, Any], *, write: bool) -> dict[str, Any]:
        if not self.fields:
            if not write:
                return record
            keep = {"id"} | self.related
            return {k: v for k, v in record.items() if k in keep}
        if "*" in self.fields:
            return record
        keep = set(self.fields) | self.related
        return {k: v for k, v in record.items() if k in keep}


def _write_answer(
    resource: RecordResource, obj: Any, options: _Options, request: Request
) -> dict[str, Any]:
    answer = options.shape(resource.to_record(obj, options.related), write=True)
    answer.update(resource.write_extras(obj, request))
    return answer


def _each(records: Iterable[Any]) -> Iterable[tuple[int, dict[str, Any]]]:
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"Record {index} must be a JSON object.")
        yield index, record


def _in_record(index: int, exc: GatewayError) -> GatewayError:
    exc.message = f"Record {index}: {exc.message}"
    return exc


class CollectionView(APIView):
    """GET (list), POST (create, 201), PATCH/PUT (records carrying ids), DELETE (`ids`)."""

    resource: ClassVar[RecordResource]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        options = _Options(request, self.resource)
        rows = self.resource.queryset()
        ids = request.query_params.get("ids")
        if ids:
            rows = rows.filter(pk__in=_ids(ids))
        offset = max(0, _int(request.query_params.get("offset"), "offset"))
        limit = _int(request.query_params.get("limit"), "limit")
        total = rows.count() if as_bool(request.query_params.get("include_count", "")) else None
        rows = rows[offset : offset + limit] if limit > 0 else rows[offset:]
        body: dict[str, Any] = {
            "resource": [
                options.shape(self.resource.to_record(r, options.related), write=False)
                for r in rows
            ]
        }
        if total is not None:
            body["meta"] = {"count": total}
        return Response(body)

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request: Request) -> Response:
        return Response({"resource": self._write_all(request, create=True)}, status=201)

    @extend_schema(request=dict, responses={200: dict})
    def patch(self, request: Request) -> Response:
        return Response({"resource": self._write_all(request, create=False)})

    put = patch

    def _write_all(self, request: Request, *, create: bool) -> list[dict[str, Any]]:
        """Prepare every record (finding the one to update unless `create`), then write them
        all in one transaction; the first failure names its record and nothing is written."""
        options = _Options(request, self.resource)
        records = records_from_body(request.data)
        if not records:
            raise BadRequest(NO_RECORDS)
        prepared: list[tuple[Any | None, dict[str, Any]]] = []
        for index, record in _each(records):
            if not create and "id" not in record:
                raise BadRequest(f"Required id field(s) not found in record {index}: id.")
            try:
                obj = None if create else self.resource.get(record["id"])
                prepared.append((obj, self.resource.prepare(record, obj)))
            except GatewayError as exc:
                raise _in_record(index, exc) from None
        written = []
        with transaction.atomic():
            for index, (obj, record) in enumerate(prepared):
                try:
                    written.append(self.resource.write(record, obj, request))
                except GatewayError as exc:
                    raise _in_record(index, exc) from None
        return [_write_answer(self.resource, obj, options, request) for obj in written]

    @extend_schema(responses={200: dict})
    def delete(self, request: Request) -> Response:
        ids = _ids(request.query_params.get("ids"))
        if not ids:
            records = records_from_body(request.data) or ()
            ids = [int(r["id"]) for _, r in _each(records) if str(r.get("id", "")).isdigit()]
        if not ids:
            raise BadRequest("No filter or records given for delete request.")
        with transaction.atomic():
            objs = [self.resource.get(pk) for pk in ids]
            for obj in objs:
                self.resource.remove(obj)
        return Response({"resource": [{"id": pk} for pk in ids]})


class DetailView(APIView):
    """GET one record (unwrapped), PATCH/PUT it (partial update), DELETE it."""

    resource: ClassVar[RecordResource]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        options = _Options(request, self.resource)
        record = self.resource.to_record(self.resource.get(pk), options.related)
        return Response(options.shape(record, write=False))

    @extend_schema(request=dict, responses={200: dict})
    def patch(self, request: Request, pk: int) -> Response:
        options = _Options(request, self.resource)
        obj = self.resource.get(pk)
        data: Any = request.data
        if isinstance(data, dict) and isinstance(data.get("resource"), list):
            data = data["resource"][0] if len(data["resource"]) == 1 else None
        if not isinstance(data, dict) or not (data or self.resource.may_patch_empty(request)):
            raise BadRequest("The request contains no valid record fields.")
        data = self.resource.prepare(data, obj)
        with transaction.atomic():
            saved = self.resource.write(data, obj, request)
        return Response(_write_answer(self.resource, saved, options, request))

    put = patch

    @extend_schema(responses={200: dict})
    def delete(self, request: Request, pk: int) -> Response:
        obj = self.resource.get(pk)
        with transaction.atomic():
            self.resource.remove(obj)
        return Response({"id": int(pk)})


def views_for(resource: RecordResource, name: str) -> tuple[Any, Any]:
    """The collection and detail views for a resource (named for the OpenAPI document)."""
    collection: type[CollectionView] = type(
        f"{name}Collection", (CollectionView,), {"resource": resource}
    )
    detail: type[DetailView] = type(f"{name}Detail", (DetailView,), {"resource": resource})
    return collection.as_view(), detail.as_view()


def nested_list(record: dict[str, Any], key: str) -> list[dict[str, Any]] | None:
    """A nested related list in a written record (`role_service_access_by_role_id`...)."""
    if key not in record:
        return None
    items = record[key]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadRequest(f"'{key}' must be a list of objects.")
    return items


def record_id(value: Any, key: str) -> int:
    """An id inside a written record (a nested item's `id`, `service_id`...): 400 if not one."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise BadRequest(f"'{key}' must be the integer id of a record, not {value!r}.")
    return int(value)


def detaches(item: dict[str, Any], fk: str) -> bool:
    """DF detaches a related row by setting its foreign key to null (spec §9.1)."""
    return fk in item and item[fk] is None


def apply_nested(
    items: list[dict[str, Any]],
    *,
    key: str,
    what: str,
    children: models.QuerySet[Any],
    fk: str,
    fields_for: Callable[[dict[str, Any], Any | None], dict[str, Any]],
    create: Callable[[dict[str, Any]], Any],
    update: Callable[[Any], None],
) -> None:
    """Write a nested related list (spec §9.1): an item with an `id` updates that child (or
    removes it when its foreign key `fk` is null), one without adds a child; children not
    mentioned stay. A 400 names the item: `key[index]: ...`."""
    for index, item in enumerate(items):
        try:
            if "id" not in item:
                create(fields_for(item, None))
                continue
            child_id = record_id(item["id"], "id")
            child = children.filter(pk=child_id).first()
            if child is None:
                raise BadRequest(f"{what} {child_id} does not belong to this record.")
            if detaches(item, fk):
                child.delete()
                continue
            for name, value in fields_for(item, child).items():
                setattr(child, name, value)
            update(child)
        except BadRequest as exc:
            exc.message = f"{key}[{index}]: {exc.message}"
            raise
