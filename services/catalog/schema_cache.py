"""The schema cache: frozen dataclasses for a service's tables, columns and relationships.

Lookups are case-insensitive (DF matches table and field names without regard to case) and raise
the typed not-found errors; nothing here talks to the database (introspection.py fills it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import BadRequest, NotFound


class NotInCache(Exception):
    """Marks an error about a name the schema cache does not know: the database may have it
    now (created outside the gateway), so the pipeline checks and tries once more."""


class UnknownTable(NotInCache, NotFound):
    pass


class UnknownColumn(NotInCache, BadRequest):
    pass


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    position: int
    db_type: str  # format_type(), e.g. "character varying(80)", "integer[]"
    base_type: str  # pg_type.typname of the (element) type, e.g. "int4", "numeric", "my_enum"
    category: str  # pg_type.typcategory of the column type: N, S, B, D, U, A (array), E (enum)...
    nullable: bool
    default: str | None
    is_primary_key: bool
    auto_increment: bool  # identity, or serial (nextval default)
    is_generated: bool  # GENERATED ALWAYS AS (...) STORED: never written
    is_unique: bool
    length: int | None
    precision: int | None
    scale: int | None
    simple_type: str  # DreamFactory's simple type name (spec §4.2)

    @property
    def required(self) -> bool:
        """NOT NULL, no default and not generated: an insert must give it."""
        return (
            not self.nullable
            and self.default is None
            and not self.auto_increment
            and not self.is_generated
        )

    @property
    def is_array(self) -> bool:
        return self.category == "A"


@dataclass(frozen=True, slots=True)
class Relation:
    """A relationship as DF names it: belongs_to, has_many, has_one or many_many (spec §3.12).

    A many_many goes through a junction table that holds foreign keys to both tables:
    `junction_fields` reference this table's `fields`, `junction_ref_fields` the other
    table's `ref_fields`; `constraint` is then the junction's key to the other table.
    """

    name: str
    type: str
    fields: tuple[str, ...]  # columns of this table
    ref_table: str  # API name of the other table
    ref_fields: tuple[str, ...]  # columns of the other table
    constraint: str
    on_update: str | None = None
    on_delete: str | None = None
    junction_table: str | None = None  # API name of the junction (many_many only)
    junction_fields: tuple[str, ...] = ()
    junction_ref_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    name: str  # API name: bare in the service's default schema, else "schema.table"
    schema: str
    db_name: str
    is_view: bool
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    relations: tuple[Relation, ...] = ()
    # the verb mask the database itself allows (core.verbs bits): GET, and the writes that
    # pg_relation_is_updatable() reports; a view with GROUP BY is read-only
    verbs: int = 31
    _columns_by_lower: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)
    _relations_by_lower: dict[str, Relation] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._columns_by_lower.update({c.name.lower(): c for c in self.columns})
        # an exact-case match wins over a case-folded one for names differing only in case
        self._columns_by_lower.update({c.name: c for c in self.columns})
        self._relations_by_lower.update({r.name.lower(): r for r in self.relations})

    def find_column(self, name: str) -> Column | None:
        return self._columns_by_lower.get(name) or self._columns_by_lower.get(name.lower())

    def column(self, name: str, *, message: str | None = None) -> Column:
        """The column called `name` (case-insensitive), or a 400 naming it."""
        found = self.find_column(name)
        if found is None:
            raise UnknownColumn(message or f"Invalid field requested: {name}")
        return found

    def find_relation(self, name: str) -> Relation | None:
        return self._relations_by_lower.get(name.lower())

    def relation(self, name: str) -> Relation:
        found = self._relations_by_lower.get(name.lower())
        if found is None:
            raise BadRequest(
                f"Invalid relationship requested: {name}",
                context={"available": [r.name for r in self.relations]},
            )
        return found

    def key_columns(self, id_field: tuple[str, ...] | None = None) -> tuple[Column, ...]:
        """The identifying columns: `id_field` if given, else the primary key (400 if none)."""
        if id_field:
            return tuple(self.column(f) for f in id_field)
        if not self.primary_key:
            raise BadRequest(
                "Identifying field(s) could not be determined.",
                context={
                    "reason": f"Table '{self.name}' has no primary key; pass id_field to "
                    "name the identifying column(s)."
                },
            )
        return tuple(self.column(f) for f in self.primary_key)


@dataclass(frozen=True, slots=True)
class SchemaCache:
    tables: dict[str, Table]  # keyed by lower-cased API name
    server_version: int = 0

    def find_table(self, name: str) -> Table | None:
        return self.tables.get(name.lower())

    def table(self, name: str) -> Table:
        found = self.find_table(name)
        if found is None:
            raise UnknownTable(f'Table "{name}" does not exist in the database.')
        return found

    def sorted_tables(self) -> list[Table]:
        return sorted(self.tables.values(), key=lambda t: t.name)
