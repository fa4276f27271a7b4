"""Read a service's stored functions and procedures from pg_proc into a frozen RoutineCatalog.

One catalog query with the schema list as a bound parameter; no user text reaches it. Lookups
match names exactly first, then without regard to case, and never build SQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

from services.catalog.introspection import served_schemas, simple_type

RoutineKind = Literal["function", "procedure"]
# what one call yields: nothing, one value, a row with named columns, or an anonymous record
ResultShape = Literal["void", "scalar", "row", "record"]

# Functions (not aggregates or window functions, not trigger functions) and procedures of the
# served schemas, minus extension members. Per argument: name, mode and type (with the type's
# own schema and name, used to cast a bound value to exactly the declared type).
_ROUTINES_SQL = """
SELECT n.nspname, p.proname, p.prokind, p.proretset,
       format_type(p.prorettype, NULL) AS return_db_type,
       rt.typtype AS return_typtype,
       coalesce(ret.typname, rbt.typname, rt.typname) AS return_base,
       rt.typcategory AS return_category,
       p.pronargdefaults,
       pg_get_expr(p.proargdefaults, 0) AS defaults,
       obj_description(p.oid, 'pg_proc') AS description,
       pg_get_function_identity_arguments(p.oid) AS signature,
       (SELECT coalesce(json_agg(json_build_object(
                   'name', coalesce(p.proargnames[a.i], ''),
                   'mode', coalesce(p.proargmodes[a.i]::text, 'i'),
                   'db_type', format_type(a.t, NULL),
                   'type_schema', tn.nspname,
                   'type_name', t.typname,
                   'typtype', t.typtype,
                   'category', t.typcategory,
                   'base', coalesce(et.typname, bt.typname, t.typname)
               ) ORDER BY a.i), '[]'::json)
        FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS a(t, i)
        JOIN pg_type t ON t.oid = a.t
        JOIN pg_namespace tn ON tn.oid = t.typnamespace
        LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
        LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
       ) AS args,
       (SELECT json_agg(json_build_object(
                   'name', att.attname,
                   'db_type', format_type(att.atttypid, att.atttypmod),
                   'base', coalesce(aet.typname, at.typname),
                   'category', at.typcategory
               ) ORDER BY att.attnum)
        FROM pg_attribute att
        JOIN pg_type at ON at.oid = att.atttypid
        LEFT JOIN pg_type aet ON aet.oid = at.typelem AND at.typcategory = 'A'
        WHERE rt.typtype = 'c' AND att.attrelid = rt.typrelid
          AND att.attnum > 0 AND NOT att.attisdropped
       ) AS return_columns,
       p.provolatile
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_type rt ON rt.oid = p.prorettype
LEFT JOIN pg_type ret ON ret.oid = rt.typelem AND rt.typcategory = 'A'
LEFT JOIN pg_type rbt ON rbt.oid = rt.typbasetype AND rt.typtype = 'd'
WHERE n.nspname = ANY(%(schemas)s)
  AND p.prokind IN ('f', 'p')
  AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
ORDER BY n.nspname, p.proname, p.oid
"""


def _simple(base_type: str, category: str) -> str:
    """DF's simple type for a routine argument or result (never an id or reference)."""
    return simple_type(base_type, category, is_pk=False, auto=False, is_fk=False, single_pk=False)


_MODES = {"i": "IN", "o": "OUT", "b": "INOUT", "v": "VARIADIC", "t": "TABLE"}


@dataclass(frozen=True, slots=True)
class RoutineParam:
    name: str  # "" for an unnamed parameter (only positional values reach it)
    position: int  # 1-based, among all parameters
    mode: str  # IN, OUT, INOUT, VARIADIC or TABLE (a RETURNS TABLE column)
    db_type: str  # format_type(), e.g. "integer", "character varying", "integer[]"
    type_schema: str  # the declared type's own schema and name (arrays: "_int4"), for casts
    type_name: str
    typtype: str  # pg_type.typtype: b base, c composite, d domain, e enum, p pseudo, r range...
    category: str  # pg_type.typcategory (A = array)
    base_type: str  # element type for arrays, base type for domains, else the type itself
    default: str | None  # the default expression as PostgreSQL prints it
    has_default: bool

    @property
    def is_input(self) -> bool:
        return self.mode in ("IN", "INOUT", "VARIADIC")

    @property
    def is_output(self) -> bool:
        return self.mode in ("OUT", "INOUT", "TABLE")

    @property
    def param_type(self) -> str:
        """DF's IN | OUT | INOUT."""
        return {"VARIADIC": "IN", "TABLE": "OUT"}.get(self.mode, self.mode)

    @property
    def simple_type(self) -> str:
        return _simple(self.base_type, self.category)


@dataclass(frozen=True, slots=True)
class ReturnColumn:
    name: str
    db_type: str
    simple_type: str


@dataclass(frozen=True, slots=True)
class Routine:
    name: str  # API name: bare in the service's default schema, else "schema.name"
    schema: str
    db_name: str
    kind: RoutineKind
    params: tuple[RoutineParam, ...]
    returns_set: bool
    shape: ResultShape
    return_db_type: str
    return_simple_type: str  # DF's simple type of the declared return type
    return_columns: tuple[ReturnColumn, ...]
    description: str | None
    signature: str  # pg_get_function_identity_arguments(), for messages
    volatility: str = "v"  # pg_proc.provolatile: i immutable, s stable, v volatile

    @property
    def inputs(self) -> tuple[RoutineParam, ...]:
        return tuple(p for p in self.params if p.is_input)

    @property
    def outputs(self) -> tuple[RoutineParam, ...]:
        return tuple(p for p in self.params if p.is_output)

    @property
    def label(self) -> str:
        return f"{self.name}({self.signature})"

    @property
    def value_column(self) -> str:
        """The key of a scalar result inside a row: the lone OUT parameter, else the name."""
        outs = self.outputs
        return outs[0].name if len(outs) == 1 and outs[0].name else self.db_name

    @property
    def return_type(self) -> str:
        """DF's return_type: the simple type of a scalar, `void`, `record` or `resultset`."""
        if self.kind == "procedure":
            return "record" if self.outputs else "void"
        if self.returns_set:
            return "resultset"
        if self.shape in ("row", "record"):
            return "record"
        if self.shape == "void":
            return "void"
        return self.return_simple_type


@dataclass(frozen=True, slots=True)
class RoutineCatalog:
    """Every routine of a service by kind, then by API name (overloads share a name)."""

    routines: dict[RoutineKind, dict[str, tuple[Routine, ...]]]

    def names(self, kind: RoutineKind) -> list[str]:
        return sorted(self.routines[kind])

    def find(self, kind: RoutineKind, name: str) -> tuple[Routine, ...] | None:
        """The overloads called `name`: exact match first, then case-insensitive."""
        by_name = self.routines[kind]
        found = by_name.get(name)
        if found is not None:
            return found
        folded = name.casefold()
        for candidate in sorted(by_name):
            if candidate.casefold() == folded:
                return by_name[candidate]
        return None


def split_defaults(text: str | None) -> list[str]:
    """Split pg_get_expr(proargdefaults) into expressions at top-level commas."""
    if not text:
        return []
    items: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in ("'", '"'):
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return items


def _params(
    args: list[dict[str, Any]], n_defaults: int, defaults: str | None
) -> list[RoutineParam]:
    exprs = split_defaults(defaults)
    if len(exprs) != n_defaults:  # an expression we could not split: know only that it exists
        exprs = [""] * n_defaults
    input_positions = [i for i, a in enumerate(args) if a["mode"] in ("i", "b", "v")]
    defaulted = dict(
        zip(input_positions[len(input_positions) - n_defaults :], exprs, strict=True)
        if n_defaults
        else []
    )
    return [
        RoutineParam(
            name=a["name"],
            position=i + 1,
            mode=_MODES.get(a["mode"], "IN"),
            db_type=a["db_type"],
            type_schema=a["type_schema"],
            type_name=a["type_name"],
            typtype=a["typtype"],
            category=a["category"],
            base_type=a["base"],
            default=defaulted.get(i) or None,
            has_default=i in defaulted,
        )
        for i, a in enumerate(args)
    ]


def _shape(return_db_type: str, typtype: str, params: list[RoutineParam]) -> ResultShape:
    outs = [p for p in params if p.is_output]
    if return_db_type == "void":
        return "void"
    if len(outs) >= 2 or typtype == "c":
        return "row"
    if return_db_type == "record" and not outs:
        return "record"
    return "scalar"


def _return_columns(
    params: list[RoutineParam], composite: list[dict[str, Any]] | None
) -> tuple[ReturnColumn, ...]:
    if composite:
        return tuple(
            ReturnColumn(
                c["name"],
                c["db_type"],
                _simple(c["base"], c["category"]),
            )
            for c in composite
        )
    return tuple(ReturnColumn(p.name, p.db_type, p.simple_type) for p in params if p.is_output)


def load_catalog(conn: psycopg.Connection[Any], schema: str) -> RoutineCatalog:
    """Every function and procedure of `schema` ("" = every user schema), over one connection."""
    schemas, default_schema = served_schemas(conn, schema)
    grouped: dict[RoutineKind, dict[str, list[Routine]]] = {
        "function": defaultdict(list),
        "procedure": defaultdict(list),
    }
    for row in conn.execute(_ROUTINES_SQL, {"schemas": schemas}).fetchall():
        (nsp, name, prokind, retset, ret_db, ret_typtype, ret_base, ret_cat) = row[:8]
        (n_def, defaults, descr, sig, args, composite, volatility) = row[8:]
        params = _params(args, n_def, defaults)
        kind: RoutineKind = "procedure" if prokind == "p" else "function"
        api_name = name if nsp == default_schema else f"{nsp}.{name}"
        grouped[kind][api_name].append(
            Routine(
                name=api_name,
                schema=nsp,
                db_name=name,
                kind=kind,
                params=tuple(params),
                returns_set=bool(retset),
                shape=_shape(ret_db, ret_typtype, params),
                return_db_type=ret_db,
                return_simple_type=_simple(ret_base, ret_cat),
                return_columns=_return_columns(params, composite),
                description=descr,
                signature=sig,
                volatility=volatility,
            )
        )
    return RoutineCatalog(
        routines={kind: {n: tuple(rs) for n, rs in by.items()} for kind, by in grouped.items()}
    )
