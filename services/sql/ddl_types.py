"""What a new or altered column may be: DF simple types, the db_type allowlist, defaults.

Pure: a client's db_type is matched against the allowlist and re-spelled from our own
vocabulary (never spliced); defaults become sql.Literal values or one of a few known
expressions; foreign-key actions come from a fixed table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg import sql

from core.errors import BadRequest

# DF simple type -> PostgreSQL type (format_type() spelling, so it compares with the catalog)
SIMPLE_TYPES: dict[str, str] = {
    "id": "integer",
    "mediumid": "integer",
    "bigid": "bigint",
    "smallid": "smallint",
    "reference": "integer",
    "user_id": "integer",
    "user_id_on_create": "integer",
    "user_id_on_update": "integer",
    "timestamp_on_create": "timestamp with time zone",
    "timestamp_on_update": "timestamp with time zone",
    "boolean": "boolean",
    "tinyint": "smallint",
    "smallint": "smallint",
    "mediumint": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "decimal": "numeric",
    "numeric": "numeric",
    "float": "real",
    "double": "double precision",
    "money": "money",
    "string": "character varying",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "binary": "bytea",
    "date": "date",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "datetime": "timestamp without time zone",
    "datetimetz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
    "timeuuid": "uuid",
    "array": "text[]",
    "object": "jsonb",
}
ID_TYPES = frozenset({"id", "mediumid", "bigid", "smallid"})
NOW_TYPES = frozenset({"timestamp_on_create", "timestamp_on_update"})
DEFAULT_STRING_LENGTH = 255

# db_type allowlist: accepted spelling -> canonical spelling; which ones take a modifier
_DB_BASES: dict[str, str] = {
    "smallint": "smallint",
    "int2": "smallint",
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "bigint": "bigint",
    "int8": "bigint",
    "real": "real",
    "float4": "real",
    "double precision": "double precision",
    "float8": "double precision",
    "numeric": "numeric",
    "decimal": "numeric",
    "money": "money",
    "boolean": "boolean",
    "bool": "boolean",
    "text": "text",
    "character varying": "character varying",
    "varchar": "character varying",
    "character": "character",
    "char": "character",
    "bpchar": "character",
    "bytea": "bytea",
    "date": "date",
    "time": "time",
    "timetz": "time",
    "time without time zone": "time",
    "time with time zone": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamp",
    "interval": "interval",
    "json": "json",
    "jsonb": "jsonb",
    "uuid": "uuid",
    "inet": "inet",
    "cidr": "cidr",
    "macaddr": "macaddr",
    "xml": "xml",
    "tsvector": "tsvector",
}
_WITH_TZ = frozenset({"timetz", "timestamptz", "time with time zone", "timestamp with time zone"})
_LENGTH_TYPES = frozenset({"character varying", "character"})
_TIME_TYPES = frozenset({"time", "timestamp"})
_DB_TYPE = re.compile(
    r"(?P<base>[a-z][a-z0-9 ]*?)\s*"
    r"(?:\(\s*(?P<p>\d{1,4})\s*(?:,\s*(?P<s>\d{1,4})\s*)?\))?"
    r"(?P<tz>\s+with(?:out)?\s+time\s+zone)?"
    r"(?P<arr>(?:\s*\[\s*\])*)"
)
_TYPMOD = re.compile(r"\(\d+(?:,\d+)?\)")

# default expressions a client may ask for by name (anything else is a literal value)
_DEFAULT_EXPRESSIONS = {
    "now()": "now()",
    "current_timestamp": "CURRENT_TIMESTAMP",
    "current_date": "CURRENT_DATE",
    "current_time": "CURRENT_TIME",
    "localtimestamp": "LOCALTIMESTAMP",
    "localtime": "LOCALTIME",
    "transaction_timestamp()": "transaction_timestamp()",
    "clock_timestamp()": "clock_timestamp()",
    "gen_random_uuid()": "gen_random_uuid()",
}
_QUOTED = re.compile(r"'((?:[^']|'')*)'", re.DOTALL)

FK_ACTIONS = {
    "CASCADE": "CASCADE",
    "SET NULL": "SET NULL",
    "SET DEFAULT": "SET DEFAULT",
    "RESTRICT": "RESTRICT",
    "NO ACTION": "NO ACTION",
}


@dataclass(frozen=True, slots=True)
class SqlType:
    """A column type spelled as format_type() would (built only from the vocabulary above)."""

    text: str

    def sql(self) -> sql.Composable:
        return sql.SQL(self.text)  # our own vocabulary, never client text


def strip_typmod(db_type: str) -> str:
    """`character varying(80)` -> `character varying` (DF's db_type carries no modifier)."""
    return _TYPMOD.sub("", db_type)


def _modifier(p: int | None, s: int | None) -> str:
    if p is None:
        return ""
    return "(" + str(p) + ("," + str(s) if s is not None else "") + ")"


def _int(value: Any, what: str, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadRequest(f"Field '{field}': {what} must be a whole number.") from None
    if number < 0 or number > 10_485_760:
        raise BadRequest(f"Field '{field}': {what} {number} is out of range.")
    return number


def parse_db_type(db_type: Any, field: str, props: dict[str, Any] | None = None) -> SqlType:
    """A client's raw db_type, if it matches the allowlist; respelled from our vocabulary."""
    if not isinstance(db_type, str):
        raise BadRequest(f"Field '{field}': db_type must be a string.")
    text = " ".join(db_type.strip().lower().split())
    match = _DB_TYPE.fullmatch(text)
    if match is None or match["base"].strip() not in _DB_BASES:
        raise BadRequest(
            f"Field '{field}': db_type '{db_type}' is not supported. Use a DF type in 'type', "
            "or a built-in PostgreSQL type such as 'varchar(80)', 'numeric(12,2)', "
            "'timestamp with time zone' or 'integer[]'."
        )
    spelled = match["base"].strip()
    base = _DB_BASES[spelled]
    props = props or {}
    p = int(match["p"]) if match["p"] else None
    s = int(match["s"]) if match["s"] else None
    if p is None and base in _LENGTH_TYPES:
        p = _int(props.get("length"), "length", field)
    if p is None and base == "numeric":
        p = _int(props.get("precision"), "precision", field)
        s = _int(props.get("scale"), "scale", field) if p is not None else None
    if (p is not None or s is not None) and base not in (*_LENGTH_TYPES, "numeric", *_TIME_TYPES):
        raise BadRequest(f"Field '{field}': db_type '{db_type}' takes no length or precision.")
    if s is not None and base != "numeric":
        raise BadRequest(f"Field '{field}': only numeric takes a scale.")
    if base in _TIME_TYPES and p is not None and p > 6:
        raise BadRequest(f"Field '{field}': time precision is at most 6.")
    if base == "numeric" and p is not None and not (1 <= p <= 1000 and (s or 0) <= p):
        raise BadRequest(f"Field '{field}': numeric precision must be 1-1000 and >= scale.")
    out = base + _modifier(p, s)
    if base in _TIME_TYPES:
        with_tz = spelled in _WITH_TZ or (match["tz"] or "").strip().startswith("with ")
        out += " with time zone" if with_tz else " without time zone"
    elif match["tz"]:
        raise BadRequest(f"Field '{field}': db_type '{db_type}' is not supported.")
    out += "[]" * match["arr"].count("[")
    return SqlType(out)


def simple_type(kind: str, props: dict[str, Any], field: str) -> SqlType:
    """A DF simple type (spec §4.2) with its length/precision/scale."""
    base = SIMPLE_TYPES.get(kind)
    if base is None:
        raise BadRequest(
            f"Field '{field}': type '{kind}' is not supported. Known types: "
            + ", ".join(sorted(SIMPLE_TYPES))
            + "."
        )
    if kind == "string":
        length = _int(props.get("length"), "length", field) or DEFAULT_STRING_LENGTH
        if length < 1:
            raise BadRequest(f"Field '{field}': length must be at least 1.")
        fixed = bool(props.get("fixed_length"))
        return SqlType(("character" if fixed else "character varying") + _modifier(length, None))
    if kind in ("decimal", "numeric"):
        db = "numeric"
        p = _int(props.get("precision"), "precision", field)
        if p is None:
            p = _int(props.get("length"), "length", field)
        s = _int(props.get("scale"), "scale", field) if p is not None else None
        return parse_db_type(db + _modifier(p, s), field)
    return SqlType(base)


def default_value(value: Any, field: str) -> sql.Composable:
    """A default as SQL: a quoted literal, or one of the few known expressions."""
    if isinstance(value, bool | int | float | Decimal):
        return sql.Literal(value)
    if isinstance(value, dict | list):
        return sql.Literal(json.dumps(value))
    if isinstance(value, str):
        if "\x00" in value:
            raise BadRequest(f"Field '{field}': default may not contain a NUL character.")
        expr = _DEFAULT_EXPRESSIONS.get(" ".join(value.strip().lower().split()))
        if expr is not None:
            return sql.SQL(expr)  # from the fixed table above
        return sql.Literal(unquote_default(value))
    raise BadRequest(f"Field '{field}': default must be a string, number, boolean or JSON.")


def unquote_default(value: Any) -> Any:
    """DF clients may send `'text'` quoted as SQL; the quotes are not part of the value."""
    if isinstance(value, str):
        match = _QUOTED.fullmatch(value.strip())
        if match:
            return match[1].replace("''", "'")
    return value


def fk_action(value: Any, field: str, what: str) -> str | None:
    if value is None or value == "":
        return None
    key = " ".join(str(value).replace("_", " ").upper().split())
    action = FK_ACTIONS.get(key)
    if action is None:
        raise BadRequest(
            f"Field '{field}': {what} must be one of " + ", ".join(FK_ACTIONS) + f", not '{value}'."
        )
    return action
