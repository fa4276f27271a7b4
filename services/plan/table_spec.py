"""Parse `_schema` write bodies into plain TableSpec/FieldSpec data (issue #5, spec §4.4-4.5).

Pure: checks names and shapes and normalises DF's spellings (type aliases, loose booleans);
it never looks at the database and never builds SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import BadRequest, NotImplementedYet
from core.flags import as_bool
from services.plan.types import NO_BODY

MAX_IDENTIFIER_BYTES = 63  # NAMEDATALEN - 1: PostgreSQL would silently truncate a longer name
NO_NAME = "Table schema received does not have a valid name."
_TYPE_ALIASES = {"pk": "id", "fk": "reference", "int": "integer"}
_BOOLEAN_PROPS = (
    "allow_null",
    "fixed_length",
    "supports_multibyte",
    "auto_increment",
    "is_unique",
    "is_index",
    "is_primary_key",
    "is_foreign_key",
    "is_virtual",
    "is_aggregate",
)


def check_identifier(name: Any, what: str) -> str:
    """A table or field name we can quote exactly: non-empty text, no NUL, at most 63 bytes."""
    if not isinstance(name, str) or not name.strip():
        raise BadRequest(f"Invalid {what} name: a non-empty string is required.")
    if "\x00" in name:
        raise BadRequest(f"Invalid {what} name: it may not contain a NUL character.")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise BadRequest(
            f"Invalid {what} name '{name}': PostgreSQL names are at most "
            f"{MAX_IDENTIFIER_BYTES} bytes long."
        )
    return name


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a write request; `props` holds only the keys the client sent."""

    name: str
    props: Mapping[str, Any]
    new_name: str | None = None

    def has(self, key: str) -> bool:
        return key in self.props

    def get(self, key: str, default: Any = None) -> Any:
        return self.props.get(key, default)

    @property
    def type(self) -> str | None:
        value = self.props.get("type")
        return value or None


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table of a write request; `fields` is None when the body had no `field` key."""

    name: str
    fields: tuple[FieldSpec, ...] | None
    props: Mapping[str, Any] = field(default_factory=dict)
    new_name: str | None = None

    def has(self, key: str) -> bool:
        return key in self.props


def parse_field(raw: Any, *, name: str | None = None) -> FieldSpec:
    """A field object (the URL's name, when given, wins over the body's, as in DF)."""
    if not isinstance(raw, dict):
        raise BadRequest("Invalid schema detected - a field must be a JSON object.")
    props = {str(k).lower(): v for k, v in raw.items()}
    if name is not None:
        props["name"] = name
    fname = props.get("name")
    if fname is None or fname == "":
        raise BadRequest("Invalid schema detected - no name element.")
    fname = check_identifier(fname, "field")
    for key in _BOOLEAN_PROPS:
        if key in props and props[key] is not None:
            props[key] = as_bool(props[key])
    if props.get("type") is not None:
        if not isinstance(props["type"], str):
            raise BadRequest(f"Invalid type for field '{fname}': a type name is required.")
        kind = props["type"].strip().lower()
        props["type"] = _TYPE_ALIASES.get(kind, kind)
        if kind == "virtual":
            props["is_virtual"] = True
    if props.get("is_virtual"):
        raise NotImplementedYet(
            f"Field '{fname}': virtual fields are not supported by this gateway; "
            "create a real column or a view instead."
        )
    new_name = props.pop("new_name", None)
    if new_name is not None:
        new_name = check_identifier(new_name, "field")
    return FieldSpec(name=fname, props=props, new_name=new_name)


def parse_table(raw: Any, *, name: str | None = None) -> TableSpec:
    """A table object: `name`, `field` (list or single object), `description`, `new_name`..."""
    if not isinstance(raw, dict):
        raise BadRequest(NO_NAME)
    props = {str(k).lower(): v for k, v in raw.items()}
    if name is not None:
        props["name"] = name
    tname = props.get("name")
    if not isinstance(tname, str) or not tname.strip():
        raise BadRequest(NO_NAME)
    if "\x00" in tname:
        raise BadRequest("Invalid table name: it may not contain a NUL character.")
    fields: tuple[FieldSpec, ...] | None = None
    raw_fields = props.pop("field", None)
    if raw_fields is not None:
        if isinstance(raw_fields, dict):
            raw_fields = [raw_fields]
        if not isinstance(raw_fields, list):
            raise BadRequest(f"Table '{tname}': 'field' must be an array of field objects.")
        fields = tuple(parse_field(f) for f in raw_fields)
        seen: set[str] = set()
        for f in fields:
            if f.name.lower() in seen:
                raise BadRequest(f"Table '{tname}': field '{f.name}' is listed twice.")
            seen.add(f.name.lower())
    related = props.get("related")
    if related:
        parse_related(related, tname)
    new_name = props.pop("new_name", None)
    if new_name is not None:
        new_name = check_identifier(new_name, "table")
    return TableSpec(name=tname, fields=fields, props=props, new_name=new_name)


def parse_related(raw: Any, table: str) -> list[str]:
    """Relationship entries: real ones come from foreign keys, so only names are read.

    DF keeps virtual relationships and relationship labels in its own metadata database; we
    have none, so a virtual relationship is refused rather than silently dropped.
    """
    items = raw if isinstance(raw, list) else [raw]
    names = []
    for item in items:
        if not isinstance(item, dict):
            raise BadRequest(f"Table '{table}': each relationship must be a JSON object.")
        if as_bool(item.get("is_virtual", False)):
            raise NotImplementedYet(
                f"Table '{table}': virtual relationships are not supported by this gateway; "
                "add a foreign key (a field with ref_table and ref_field) instead."
            )
        names.append(str(item.get("name") or ""))
    return names


def records(body: Any) -> list[Any] | None:
    """The list of a body (`{"resource": [...]}` or `[...]`); None for a bare object or none."""
    if body is NO_BODY or body is None:
        return None
    if isinstance(body, dict):
        inner = body.get("resource")
        if isinstance(inner, list):
            return inner
        if isinstance(inner, dict):
            return [inner]
        return None
    if isinstance(body, list):
        return body
    return None


def name_list(value: Any) -> list[str]:
    """`ids=a,b`, `["a","b"]` or `[{"name":"a"}, ...]` as a list of names."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        out = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else item
            if name is not None and str(name).strip():
                out.append(str(name).strip())
        return out
    return [str(value)]
