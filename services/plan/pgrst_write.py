"""Stage 6 of the PostgREST dialect for writes: POST, PATCH and DELETE on a table -> PgrstWrite.

A PgrstWrite is the shared TableWrite (table, action, records, filter) whose WriteOptions carry
what PostgREST's headers and parameters ask of the write: `columns`, `on_conflict`,
`Prefer: resolution`, `missing`, `tx`, `max-affected` with `handling=strict`, and `select` for
what a representation answers; it keeps beside it only what shapes the answer (`return`,
`count`, `Preference-Applied`). The shared stages bind, compile and run the TableWrite.
Pure: no schema, no SQL. Bodies are JSON (an object or an array of
objects) or CSV (`Content-Type: text/csv`: a header line, then one line per row; an empty field
is NULL). Filters are read by the read parser (pgrst_parse.py), so PATCH and DELETE take the
same grammar as GET.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Literal

from core.errors import BadRequest
from core.request_body import parse_json
from services.plan.pgrst_errors import not_supported, syntax_error
from services.plan.pgrst_parse import PgrstQuery, parse_pgrst_read
from services.plan.pgrst_select import parse_select
from services.plan.types import Duplicates, SelectItem, TableWrite, WriteAction, WriteOptions

Returning = Literal["minimal", "headers-only", "representation"]
Resolution = Literal["merge-duplicates", "ignore-duplicates"]

_ACTIONS: dict[str, WriteAction] = {"POST": "create", "PATCH": "update", "DELETE": "delete"}
_NOT_FILTERS = frozenset({"columns", "on_conflict", "select"})
_LATER = frozenset({"order", "limit", "offset"})  # PostgREST's limited updates and deletes
_RETURNS = ("minimal", "headers-only", "representation")
_RESOLUTIONS: dict[str, Duplicates] = {"merge-duplicates": "merge", "ignore-duplicates": "ignore"}
_KNOWN_PREFERENCES = frozenset(
    {"return", "count", "resolution", "missing", "tx", "handling", "max-affected", "timezone"}
)


@dataclass(frozen=True, slots=True)
class PgrstWriteQuery:
    """A PostgREST write as the request stage found it."""

    method: str  # POST, PATCH or DELETE
    table: str
    pairs: tuple[tuple[str, str], ...]
    body: bytes | None
    content_type: str = ""
    prefer: str = ""


@dataclass(frozen=True, slots=True)
class PgrstWrite:
    """The shared TableWrite (its WriteOptions set) and how to answer it; `applied` is
    `Preference-Applied`."""

    write: TableWrite
    returning: Returning = "minimal"
    count: bool = False
    applied: tuple[str, ...] = ()

    @property
    def options(self) -> WriteOptions:
        return self.write.options or WriteOptions()

    @property
    def columns(self) -> tuple[str, ...] | None:
        return self.options.columns

    @property
    def on_conflict(self) -> tuple[str, ...] | None:
        return self.options.on_conflict

    @property
    def resolution(self) -> Resolution | None:
        duplicates = self.options.duplicates
        return None if duplicates is None else f"{duplicates}-duplicates"  # type: ignore[return-value]

    @property
    def select(self) -> tuple[SelectItem, ...] | None:
        return self.options.outputs

    @property
    def missing_default(self) -> bool:
        return self.options.missing_default

    @property
    def rollback(self) -> bool:
        return self.options.dry_run

    @property
    def max_affected(self) -> int | None:
        return self.options.max_affected


def invalid_body(message: str, details: str | None = None) -> BadRequest:
    """PGRST102: the body is no JSON PostgREST can write."""
    return BadRequest(message, context={"pgrst": "PGRST102", "details": details})


def preferences(prefer: str) -> dict[str, str]:
    """`Prefer: a=b, c=d` as {a: b, c: d} (the first value of a name wins)."""
    found: dict[str, str] = {}
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name and name not in found:
            found[name] = value.strip().lower()
    return found


def _names(param: str, text: str) -> tuple[str, ...]:
    """A comma list of column names, each bare or in double quotes (`\\"` escapes)."""
    names: list[str] = []
    pos, size = 0, len(text)
    while pos <= size:
        if pos < size and text[pos] == '"':
            end, name = pos + 1, []
            while end < size and text[end] != '"':
                if text[end] == "\\" and end + 1 < size:
                    end += 1
                name.append(text[end])
                end += 1
            if end >= size:
                raise syntax_error(f"{param} parameter", text, pos, "a closing quote")
            names.append("".join(name))
            pos = end + 1
        else:
            comma = text.find(",", pos)
            comma = size if comma < 0 else comma
            name_text = text[pos:comma].strip()
            if not name_text:
                raise syntax_error(f"{param} parameter", text, pos, "a column name")
            names.append(name_text)
            pos = comma
        if pos < size and text[pos] != ",":
            raise syntax_error(f"{param} parameter", text, pos, '","')
        pos += 1
    return tuple(names)


def _csv_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_body("The CSV body is not UTF-8 text") from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        raise invalid_body("Empty CSV body", "Send a header line with the column names")
    header, rows = lines[0], [line for line in lines[1:] if line]
    for number, line in enumerate(rows, start=2):
        if len(line) != len(header):
            raise invalid_body(
                "All lines of a CSV body must have as many fields as its header",
                f"Line {number} has {len(line)} fields; the header has {len(header)}",
            )
    return [{k: (v if v != "" else None) for k, v in zip(header, r, strict=True)} for r in rows]


def _json_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        value = parse_json(body)
    except BadRequest as exc:
        raise invalid_body("Empty or invalid json", exc.message) from None
    rows = value if isinstance(value, list) else [value]
    if not all(isinstance(r, dict) for r in rows):
        raise invalid_body("Empty or invalid json", "Send an object, or an array of objects")
    return rows


def _body_rows(query: PgrstWriteQuery) -> list[dict[str, Any]]:
    if query.body is None or not query.body.strip():
        raise invalid_body("Empty or invalid json", "The request has no body")
    media = query.content_type.split(";")[0].strip().lower()
    if media == "text/csv":
        return _csv_rows(query.body)
    return _json_rows(query.body)


def _whole(name: str, text: str) -> int:
    if not text.isdigit():
        raise syntax_error(f"{name} preference", text, 0, "a whole number of rows")
    return int(text)


def parse_pgrst_write(query: PgrstWriteQuery) -> PgrstWrite:
    """The write a PostgREST POST, PATCH or DELETE asks for, or a 400 naming what is wrong."""
    action = _ACTIONS[query.method]
    prefer = preferences(query.prefer)
    applied: list[str] = []
    params = dict(query.pairs)
    for key, value in query.pairs:
        if key in _LATER:
            raise not_supported(f"the {key} parameter on writes", value)
    columns = _names("columns", params["columns"]) if "columns" in params else None
    on_conflict = _names("on_conflict", params["on_conflict"]) if "on_conflict" in params else None
    select = parse_select(params["select"]) if params.get("select", "").strip() else None
    filters = tuple((k, v) for k, v in query.pairs if k not in _NOT_FILTERS)
    where = parse_pgrst_read(PgrstQuery(table=query.table, pairs=filters)).filter
    rows: list[dict[str, Any]] = []
    if action != "delete":  # a DELETE's body is ignored (clients send `{}`)
        rows = _body_rows(query)
        if action == "update" and len(rows) != 1:
            raise invalid_body("Empty or invalid json", "PATCH takes one object")
    if action == "create" and where is not None:
        raise not_supported("filters on POST", query.pairs[0][0])

    returning: Returning = "minimal"
    if prefer.get("return") in _RETURNS:
        returning = prefer["return"]  # type: ignore[assignment]
        applied.append(f"return={returning}")
    duplicates: Duplicates | None = None
    if action == "create" and prefer.get("resolution") in _RESOLUTIONS:
        duplicates = _RESOLUTIONS[prefer["resolution"]]
        applied.append(f"resolution={prefer['resolution']}")
    missing_default = action != "delete" and prefer.get("missing") == "default"
    if missing_default:
        applied.append("missing=default")
    rollback = prefer.get("tx") == "rollback"
    if prefer.get("tx") in ("rollback", "commit"):
        applied.append(f"tx={prefer['tx']}")
    count = prefer.get("count") in ("exact", "planned", "estimated")
    if count:
        applied.append(f"count={prefer['count']}")
    strict = prefer.get("handling") == "strict"
    max_affected = None
    if strict:
        unknown = [name for name in prefer if name not in _KNOWN_PREFERENCES]
        if unknown:
            raise BadRequest(
                "Invalid preferences given with handling=strict",
                context={
                    "pgrst": "PGRST122",
                    "details": f"Invalid preferences: {', '.join(unknown)}",
                },
            )
        applied.append("handling=strict")
        if "max-affected" in prefer and action != "create":
            max_affected = _whole("max-affected", prefer["max-affected"])
            applied.append(f"max-affected={max_affected}")
    options = WriteOptions(
        columns=columns,
        missing_default=missing_default,
        on_conflict=on_conflict,
        duplicates=duplicates,
        dry_run=rollback,
        max_affected=max_affected,
        represent=returning == "representation",
        outputs=select,
    )
    write = TableWrite(
        table=query.table,
        action=action,
        records=tuple(rows),
        filter=where,
        mode="rollback",  # all or nothing
        options=options,
    )
    return PgrstWrite(write=write, returning=returning, count=count, applied=tuple(applied))
