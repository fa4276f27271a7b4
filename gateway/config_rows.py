"""What applying any record to its row takes: finding the row (or a new one), the record's
known keys, setting its fields, validating and saving the row only when it changed, and a 400
that names the record (`about`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.core.exceptions import ValidationError
from django.db import models

from core.errors import BadRequest, GatewayError

M = TypeVar("M", bound=models.Model)


@contextmanager
def about(where: str) -> Iterator[None]:
    """400s raised while applying one record name it; model validation errors become 400s."""
    try:
        yield
    except ValidationError as exc:
        raise BadRequest(f"{where}: {_validation_message(exc)}") from None
    except GatewayError as exc:
        if exc.status != 400:
            raise
        raise BadRequest(f"{where}: {exc.message}") from None


def _validation_message(exc: ValidationError) -> str:
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return " ".join(
        f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
        for field, messages in exc.message_dict.items()
    )


def only(record: dict[str, Any], allowed: frozenset[str]) -> None:
    """A 400 naming any key of `record` that is not `allowed`."""
    unknown = sorted(set(record) - allowed)
    if unknown:
        raise BadRequest(
            f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}."
        )


def picked(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The record's values for those of `keys` it holds."""
    return {key: record[key] for key in keys if key in record}


def found_or_new(
    rows: models.QuerySet[M], new: dict[str, Any], duplicate: str = ""
) -> tuple[M, bool]:
    """The row `rows` find, else a new unsaved one with `new`; True when new. With
    `duplicate`, two rows found are a 400 saying it."""
    if duplicate:
        found = list(rows[:2])
        if len(found) > 1:
            raise BadRequest(duplicate)
        row = found[0] if found else None
    else:
        row = rows.first()
    return (rows.model(**new), True) if row is None else (row, False)


def _default(obj: models.Model, name: str) -> Any:
    """What `null` in the document stands for: the field's default (or blank, or NULL)."""
    field = cast("models.Field[Any, Any]", obj._meta.get_field(name))
    if field.null:
        return None
    if field.has_default():
        return field.get_default()
    return "" if field.blank else None


def assign(obj: models.Model, values: dict[str, Any]) -> dict[str, Any]:
    """Set `values` on `obj`; returns what the fields held before."""
    before = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, _default(obj, name) if value is None else value)
    return before


def store(
    obj: M,
    before: dict[str, Any],
    created: bool,
    exclude: list[str] | None = None,
    check: Callable[[M], None] | None = None,
) -> bool:
    """Validate `obj` (its fields but `exclude`, then `check`) and save it when new or changed
    since `before` (see `assign`); True when changed."""
    obj.full_clean(exclude=exclude)
    if check is not None:
        check(obj)
    changed = any(getattr(obj, name) != value for name, value in before.items())
    if created or changed:
        obj.save()
    return changed
