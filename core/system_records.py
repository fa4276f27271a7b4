"""DreamFactory's record conventions for the system API (spec §9.1), shared by services, roles,
apps, users and limits: list answers wrapped in `resource`, list bodies for POST (201, ids
only unless `fields`), PATCH/PUT as partial updates (by id, by records, or one record applied
to `ids` or `filter`), DELETE by id, `ids`, records or `filter`, `related` lists, and verb
tunnelling (a POST with X-HTTP-Method: GET reads).

A RecordResource says how one model maps to records and how a record is validated and saved;
the two views here do the HTTP side. Reads take the options of `core.record_query`; writes of
several records are batches (`core.record_batch`: stop at the first failure by default,
`continue=true`, `rollback=true`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, models, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.drf import as_gateway_error
from core.errors import BadRequest, GatewayError, NotFound
from core.flags import as_bool
from core.record_batch import Mode, Step, batch_mode, integrity_error, run_batch
from core.record_query import Field, filtered, id_list, ordered, page, query_fields, request_options
from core.records import NO_RECORDS, records_from_body
from core.request import effective_verb


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

    def visible(self, rows: models.QuerySet[Any], request: Request) -> models.QuerySet[Any]:
        """The records this caller may read (all by default; services narrow it for
        callers whose role reaches only some)."""
        return rows

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

    def query_fields(self) -> dict[str, Field]:
        """The record fields `filter` and `order` may name (lower-case) -> model fields:
        the stored ones among `record_fields`. Override to add or hide some."""
        return query_fields(self.model, self.record_fields)

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
    """A comma list (or a JSON array, as a body option) as a set of names."""
    if not value:
        return frozenset()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return frozenset(str(v).strip() for v in items if str(v).strip())


class _Options:
    """The request's options (query string, or a tunnelled or wrapped body): `fields` and
    `related` shape each answer; the rest is read where it is used."""

    def __init__(self, request: Request, resource: RecordResource, *, body_options: bool) -> None:
        data = _body(request)
        self.values = request_options(request.query_params, data, body_options=body_options)
        self.fields = names(self.values.get("fields"))
        related = names(self.values.get("related"))
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


def _body(request: Request) -> Any:
    data = request.data
    return data if isinstance(data, list | dict) else None


def _wrapped(data: Any) -> bool:
    """A body whose records sit under `resource`: its other top-level keys are options."""
    return isinstance(data, dict) and "resource" in data


def _write_answer(
    resource: RecordResource, obj: Any, options: _Options, request: Request
) -> dict[str, Any]:
    answer = options.shape(resource.to_record(obj, options.related), write=True)
    answer.update(resource.write_extras(obj, request))
    return answer


def _record_ids(records: Iterable[Any]) -> list[int]:
    """The ids of records given in a body (a read or delete by records), or of a bare list
    of ids, as DF also takes it."""
    ids = []
    for index, record in enumerate(records):
        if isinstance(record, int | str):
            ids.append(record)
        elif isinstance(record, dict) and "id" in record:
            ids.append(record["id"])
        else:
            raise BadRequest(f"Required id field(s) not found in record {index}: id.")
    return id_list(ids)


def _matching_ids(resource: RecordResource, options: dict[str, Any]) -> list[int]:
    """The ids of the records `filter` matches, in the read order (a write by filter)."""
    fields = resource.query_fields()
    rows = ordered(filtered(resource.queryset(), options, fields), options, fields)
    return list(rows.values_list("pk", flat=True))


def _tunnel(request: Request) -> None:
    """Verb tunnelling (spec §1.2): a POST carrying X-HTTP-Method, X-Method-Override or
    `?method=` is handled as that verb (a read by ids in the body, say), as the data API does."""
    if request.method != "POST":
        return
    verb = effective_verb("POST", request.META, request.query_params)
    if verb != "POST":
        request._request.method = verb
        request.method = verb


class _SystemView(APIView):
    resource: ClassVar[RecordResource]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        _tunnel(request)  # before permissions see the verb
        super().initial(request, *args, **kwargs)


class CollectionView(_SystemView):
    """GET (list, by `ids` or `filter`), POST (create, 201), PATCH/PUT (records carrying ids,
    or one record applied to `ids` or `filter`), DELETE (`ids`, records or `filter`)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        options = _Options(request, self.resource, body_options=True)
        values = options.values
        fields = self.resource.query_fields()
        rows = self.resource.visible(self.resource.queryset(), request)
        ids = id_list(values.get("ids"))
        records = records_from_body(_body(request)) if not ids else None
        if records:
            ids = _record_ids(records)
        if ids:
            rows = rows.filter(pk__in=ids)
            self._all_found(ids, rows, options)
        else:
            rows = filtered(rows, values, fields)
        rows = ordered(rows, values, fields)
        if as_bool(values.get("count_only", "")):
            return Response(rows.count())
        total = rows.count() if as_bool(values.get("include_count", "")) else None
        body: dict[str, Any] = {
            "resource": [
                options.shape(self.resource.to_record(r, options.related), write=False)
                for r in page(rows, values)
            ]
        }
        if total is not None:
            body["meta"] = {"count": total}
        return Response(body)

    def _all_found(self, ids: list[int], rows: models.QuerySet[Any], options: _Options) -> None:
        """A read by ids naming a record that is not there is a batch error (spec §3.8): each
        id's record or its 404, in request order, up to the first missing one unless
        `continue`."""
        found = {obj.pk: obj for obj in rows}
        if all(pk in found for pk in ids):
            return
        steps: list[Step] = []
        for pk in ids:
            obj = found.get(pk)
            if obj is None:
                steps.append(NotFound(f"Record with identifier '{pk}' not found."))
            else:
                record = self.resource.to_record(obj, options.related)
                steps.append(partial(options.shape, record, write=False))
        run_batch(steps, mode=batch_mode(options.values), verb="GET")

    @extend_schema(request=dict, responses={201: dict})
    def post(self, request: Request) -> Response:
        return Response({"resource": self._write_all(request, create=True)}, status=201)

    @extend_schema(request=dict, responses={200: dict})
    def patch(self, request: Request) -> Response:
        return Response({"resource": self._write_all(request, create=False)})

    put = patch

    def _write_all(self, request: Request, *, create: bool) -> list[dict[str, Any]]:
        """Create the body's records, or update them (each by its `id`, or the first record
        applied to every record of `ids` or `filter`), as one batch (spec §3.8)."""
        data = _body(request)
        options = _Options(request, self.resource, body_options=_wrapped(data))
        mode = batch_mode(options.values)
        records = records_from_body(data)
        if not records:
            raise BadRequest(NO_RECORDS)
        targets: list[tuple[Any, Any]]
        if create:
            targets = [(record, None) for record in records]
        elif options.values.get("ids") not in (None, "", []):
            targets = [(records[0], pk) for pk in id_list(options.values.get("ids"))]
        elif str(options.values.get("filter") or "").strip():
            targets = [(records[0], pk) for pk in _matching_ids(self.resource, options.values)]
        else:
            targets = [
                (record, record.get("id") if isinstance(record, dict) else None)
                for record in records
            ]
        steps = self._steps(targets, create, mode, request, options)
        return run_batch(steps, mode=mode, verb="POST" if create else "PATCH")

    def _steps(
        self,
        targets: list[tuple[Any, Any]],
        create: bool,
        mode: Mode,
        request: Request,
        options: _Options,
    ) -> list[Step]:
        """Find and prepare each record before the transaction (hashing a password is slow);
        a failure here is that record's result, and ends the list unless `continue`."""
        steps: list[Step] = []
        for index, (record, pk) in enumerate(targets):
            try:
                if not isinstance(record, dict):
                    raise BadRequest(f"Record {index} must be a JSON object.")
                if not create and pk is None:
                    raise BadRequest(f"Required id field(s) not found in record {index}: id.")
                obj = None if create else self.resource.get(pk)
                prepared = self.resource.prepare(record, obj)
            except GatewayError as exc:
                steps.append(exc)
                if mode != "continue":
                    break
                continue
            steps.append(partial(self._write_one, prepared, obj, request, options))
        return steps

    def _write_one(
        self, record: dict[str, Any], obj: Any, request: Request, options: _Options
    ) -> dict[str, Any]:
        saved = self.resource.write(record, obj, request)
        return _write_answer(self.resource, saved, options, request)

    @extend_schema(responses={200: dict})
    def delete(self, request: Request) -> Response:
        """Delete by `ids`, by the body's records or by `filter`; each answer (the id, or the
        `fields` asked for) is read before its record goes. Answers keep the request's order."""
        options = _Options(request, self.resource, body_options=True)
        values = options.values
        mode = batch_mode(values)
        ids = id_list(values.get("ids"))
        if not ids:
            records = records_from_body(_body(request))
            if records:
                ids = _record_ids(records)
            elif str(values.get("filter") or "").strip():
                ids = _matching_ids(self.resource, values)
                if not ids:
                    return Response({"resource": []})
            else:
                raise BadRequest("No filter or records given for delete request.")
        steps: list[Step] = []
        for pk in ids:
            try:
                obj = self.resource.get(pk)
            except GatewayError as exc:
                steps.append(exc)
                if mode != "continue":
                    break
                continue
            steps.append(partial(self._remove_one, obj, options))
        return Response({"resource": run_batch(steps, mode=mode, verb="DELETE")})

    def _remove_one(self, obj: Any, options: _Options) -> dict[str, Any]:
        answer = options.shape(self.resource.to_record(obj, options.related), write=True)
        self.resource.remove(obj)
        return answer


class DetailView(_SystemView):
    """GET one record (unwrapped), PATCH/PUT it (partial update), DELETE it (answering the
    `fields` asked for, read before it goes)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        options = _Options(request, self.resource, body_options=True)
        obj = self.resource.get(pk)
        if not self.resource.visible(self.resource.queryset(), request).filter(pk=obj.pk):
            raise NotFound(f"Record with identifier '{pk}' not found.")
        record = self.resource.to_record(obj, options.related)
        return Response(options.shape(record, write=False))

    @extend_schema(request=dict, responses={200: dict})
    def patch(self, request: Request, pk: int) -> Response:
        data: Any = _body(request)
        options = _Options(request, self.resource, body_options=_wrapped(data))
        obj = self.resource.get(pk)
        if isinstance(data, dict) and isinstance(data.get("resource"), list):
            data = data["resource"][0] if len(data["resource"]) == 1 else None
        if not isinstance(data, dict) or not (data or self.resource.may_patch_empty(request)):
            raise BadRequest("The request contains no valid record fields.")
        data = self.resource.prepare(data, obj)
        try:
            with transaction.atomic():
                saved = self.resource.write(data, obj, request)
        except IntegrityError as exc:
            raise integrity_error(exc) from None
        return Response(_write_answer(self.resource, saved, options, request))

    put = patch

    @extend_schema(responses={200: dict})
    def delete(self, request: Request, pk: int) -> Response:
        options = _Options(request, self.resource, body_options=True)
        obj = self.resource.get(pk)
        answer = options.shape(self.resource.to_record(obj, options.related), write=True)
        try:
            with transaction.atomic():
                self.resource.remove(obj)
        except IntegrityError as exc:
            raise integrity_error(exc) from None
        return Response(answer)


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
