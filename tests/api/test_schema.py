"""/_schema: describe, create, alter and drop tables and fields (spec §4, issue #5).

Tables these tests create get unique names and are dropped afterwards (`new_table`); the shared
fixture tables are only ever read, or asked for a change that must be refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from psycopg import sql

from tests.conftest import client_for, make_app, make_role

pytestmark = pytest.mark.django_db

S = "/api/v2/shop/_schema"
T = "/api/v2/shop/_table"


@pytest.fixture
def new_table(pg: Any) -> Iterator[Callable[..., str]]:
    """A factory of unique table names; every such table (and its renames) is dropped after."""
    made: list[str] = []

    def make(prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        made.append(name)
        return name

    yield make
    for name in reversed(made):
        for suffix in ("", "_renamed"):
            pg.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name + suffix))
            )
            pg.execute(
                sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(sql.Identifier(name + "_v"))
            )


def columns(pg: Any, table: str) -> dict[str, tuple[str, bool, str | None]]:
    """{column: (format_type, not null, default)} straight from the catalog."""
    rows = pg.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(d.adbin, d.adrelid)
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid
                AND d.adnum = a.attnum
           WHERE a.attrelid = to_regclass(quote_ident(%s)) AND a.attnum > 0
                AND NOT a.attisdropped ORDER BY a.attnum""",
        (table,),
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def table_exists(pg: Any, name: str) -> bool:
    return pg.execute("SELECT to_regclass(quote_ident(%s)) IS NOT NULL", (name,)).fetchone()[0]


def catalog_snapshot(pg: Any, table: str) -> tuple[Any, ...]:
    """Columns, constraints and indexes of a table, to prove a request changed nothing."""
    cons = pg.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = to_regclass(quote_ident(%s)) ORDER BY conname",
        (table,),
    ).fetchall()
    idx = pg.execute(
        "SELECT indexrelid::regclass::text FROM pg_index "
        "WHERE indrelid = to_regclass(quote_ident(%s)) ORDER BY 1",
        (table,),
    ).fetchall()
    return (columns(pg, table), cons, idx)


def todo_count(pg: Any) -> int:
    return pg.execute("SELECT count(*) FROM todo").fetchone()[0]


def create(api: Any, *tables: dict[str, Any], **query: Any) -> tuple[int, Any]:
    return api.post(S, list(tables), **query)


# --- describe --------------------------------------------------------------------------------


def test_list_tables_and_views_sorted(api: Any) -> None:
    status, body = api.get(S)
    assert status == 200
    listed = [r["name"] for r in body["resource"]]
    assert listed == sorted(listed)
    assert {"todo", "customers", "big_orders", "Table With Space", 'quote"d'} <= set(listed)
    assert all(set(r) == {"name"} for r in body["resource"])
    assert "other.secret" not in listed and "secret" not in listed


def test_list_with_fields_star_as_list_and_ids(api: Any, pg: Any, new_table: Any) -> None:
    name = new_table()
    pg.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(name)))
    pg.execute(sql.SQL("COMMENT ON TABLE {} IS 'Things to do'").format(sql.Identifier(name)))
    status, body = api.get(S, fields="*", refresh="true")
    assert status == 200
    by_name = {r["name"]: r for r in body["resource"]}
    assert by_name["todo"] == {
        "alias": None,
        "name": "todo",
        "label": "Todo",
        "description": None,
        "native": [],
        "plural": "Todos",
        "is_view": False,
        "access": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    }
    assert by_name["big_orders"]["is_view"] is True
    assert by_name[name]["description"] == "Things to do"

    status, body = api.get(S, as_list="true")
    assert "todo" in body["resource"] and isinstance(body["resource"][0], str)
    status, body = api.get(S, fields="name,is_view")
    assert {"name": "big_orders", "is_view": True} in body["resource"]

    status, body = api.get(S, ids="todo,customers")
    assert status == 200
    assert [t["name"] for t in body["resource"]] == ["todo", "customers"]
    assert body["resource"][0]["access"] == 31 and body["resource"][0]["field"]


def test_describe_table_shape(api: Any) -> None:
    status, body = api.get(f"{S}/todo")
    assert status == 200
    assert {k: body[k] for k in ("alias", "name", "label", "plural", "is_view")} == {
        "alias": None,
        "name": "todo",
        "label": "Todo",
        "plural": "Todos",
        "is_view": False,
    }
    assert body["primary_key"] == ["id"] and body["name_field"] is None
    assert body["access"] == 31 and body["related"] == []
    id_field, name_field, complete = body["field"]
    assert id_field == {
        "alias": None,
        "name": "id",
        "label": "Id",
        "description": None,
        "native": [],
        "type": "id",
        "db_type": "integer",
        "length": None,
        "precision": 32,
        "scale": 0,
        "default": None,
        "required": False,
        "allow_null": False,
        "fixed_length": False,
        "supports_multibyte": False,
        "auto_increment": True,
        "is_primary_key": True,
        "is_unique": False,
        "is_index": False,
        "is_foreign_key": False,
        "ref_table": None,
        "ref_field": None,
        "ref_on_update": None,
        "ref_on_delete": None,
        "picklist": None,
        "validation": None,
        "db_function": None,
        "is_virtual": False,
        "is_aggregate": False,
    }
    assert (name_field["type"], name_field["db_type"], name_field["length"]) == (
        "string",
        "character varying",
        255,
    )
    assert name_field["required"] is True and name_field["is_unique"] is True
    assert complete["allow_null"] is True and complete["required"] is False
    assert body["constraints"]["todo_pkey"]["constraint_type"] == "PRIMARY KEY"
    assert body["constraints"]["todo_pkey"]["column_name"] == "id"
    assert body["constraints"]["todo_name_key"]["constraint_type"] == "UNIQUE"


def test_describe_types_defaults_and_foreign_keys(api: Any) -> None:
    status, customers = api.get(f"{S}/customers")
    fields = {f["name"]: f for f in customers["field"]}
    assert fields["country"]["default"] == "US" and fields["country"]["fixed_length"] is True
    assert fields["country"]["length"] == 2
    assert fields["created_at"]["type"] == "timestamptz"
    assert fields["created_at"]["default"] == "now()" and fields["created_at"]["required"] is False
    status, orders = api.get(f"{S}/orders")
    fields = {f["name"]: f for f in orders["field"]}
    assert fields["id"]["type"] == "bigid"
    assert (fields["total"]["type"], fields["total"]["precision"], fields["total"]["scale"]) == (
        "decimal",
        12,
        2,
    )
    assert fields["total"]["default"] == 0 and fields["status"]["default"] == "new"
    fk = fields["customer_id"]
    assert (fk["type"], fk["is_foreign_key"], fk["ref_table"], fk["ref_field"]) == (
        "reference",
        True,
        "customers",
        "id",
    )
    assert (fk["ref_on_delete"], fk["ref_on_update"], fk["is_index"]) == (
        "CASCADE",
        "NO ACTION",
        True,
    )
    fkey = orders["constraints"]["orders_customer_id_fkey"]
    assert fkey["constraint_type"] == "FOREIGN KEY"
    assert fkey["referenced_table_name"] == "customers" and fkey["delete_rule"] == "CASCADE"
    status, items = api.get(f"{S}/order_items")
    assert any(c["constraint_type"] == "CHECK" for c in items["constraints"].values())


def test_describe_related_and_view(api: Any, service: Any) -> None:
    status, body = api.get(f"{S}/customers")
    related = {r["name"]: r for r in body["related"]}
    assert related["orders_by_customer_id"]["type"] == "has_many"
    assert related["profiles_by_customer_id"]["type"] == "has_one"
    status, body = api.get(f"{S}/orders")
    belongs = next(r for r in body["related"] if r["name"] == "customers_by_customer_id")
    assert belongs == {
        "alias": None,
        "name": "customers_by_customer_id",
        "label": "Customers By Customer Id",
        "description": None,
        "native": [],
        "type": "belongs_to",
        "field": "customer_id",
        "is_virtual": False,
        "ref_service_id": service.id,
        "ref_table": "customers",
        "ref_field": "id",
        "ref_on_update": "NO ACTION",
        "ref_on_delete": "CASCADE",
        "junction_service_id": None,
        "junction_table": None,
        "junction_field": None,
        "junction_ref_field": None,
        "always_fetch": False,
        "flatten": False,
        "flatten_drop_prefix": False,
    }
    status, view = api.get(f"{S}/big_orders")
    assert status == 200 and view["is_view"] is True and view["primary_key"] == []
    assert [f["name"] for f in view["field"]] == ["id", "customer_id", "total"]


def test_field_and_related_endpoints(api: Any) -> None:
    status, body = api.get(f"{S}/todo/_field")
    assert status == 200 and [f["name"] for f in body["resource"]] == ["id", "name", "complete"]
    status, body = api.get(f"{S}/todo/_field", ids="complete,id")
    assert [f["name"] for f in body["resource"]] == ["complete", "id"]
    status, body = api.get(f"{S}/todo/_field/name")
    assert status == 200 and body["name"] == "name" and body["is_unique"] is True
    status, body = api.get(f"{S}/TODO/NAME")  # DF's deprecated form, names without case
    assert status == 200 and body["name"] == "name"
    status, body = api.get(f"{S}/customers/_related")
    assert "orders_by_customer_id" in [r["name"] for r in body["resource"]]
    status, body = api.get(f"{S}/customers/_related/orders_by_customer_id")
    assert status == 200 and body["ref_table"] == "orders" and body["ref_field"] == "customer_id"


def test_unknown_table_field_and_relationship_are_404(api: Any) -> None:
    status, body = api.get(f"{S}/nope")
    assert status == 404
    assert body["error"]["message"] == 'Table "nope" does not exist in the database.'
    for path in (f"{S}/todo/_field/nope", f"{S}/todo/nope"):
        status, body = api.get(path)
        assert status == 404
        assert body["error"]["message"] == "No requested fields found in table 'todo'."
    status, body = api.get(f"{S}/todo/_field", ids="name,nope")
    assert status == 404
    status, body = api.get(f"{S}/todo/_related/nope")
    assert status == 404
    assert body["error"]["message"] == "No requested relationships found in table 'todo'."
    for verb in ("post", "put", "patch", "delete"):
        status, body = getattr(api, verb)(f"{S}/nope", {"field": [{"name": "x"}]})
        assert status == 404, verb
        assert body["error"]["message"] == 'Table "nope" does not exist in the database.'
    status, body = api.get(f"{S}/todo/_field/name/extra")
    assert status == 400


def test_hostile_table_names_are_described(api: Any) -> None:
    for name, column in (
        ("Table With Space", "Column With Space"),
        ('quote"d', 'we"ird'),
        ("Escap3e;", "so6em"),
        ("select", "from"),
    ):
        status, body = api.get(f"{S}/{quote(name)}")
        assert status == 200, name
        assert body["name"] == name and column in [f["name"] for f in body["field"]]
    status, body = api.get(f"{S}/{quote('Table With Space')}/_field/{quote('Column With Space')}")
    assert status == 200 and body["type"] == "text"


def test_anonymous_caller_is_refused(anon: Any, service: Any) -> None:
    status, body = anon.get(S)
    assert status == 401 and "No session token" in body["error"]["message"]


# --- create ----------------------------------------------------------------------------------


def test_create_table_and_table_api_serves_it_at_once(api: Any, pg: Any, new_table: Any) -> None:
    name = new_table()
    status, body = create(
        api,
        {
            "name": name,
            "label": "Todo",
            "field": [
                {"name": "id", "type": "id"},
                {"name": "name", "type": "string", "length": 80, "is_unique": True},
                {"name": "complete", "type": "boolean", "allow_null": True, "default": False},
            ],
        },
    )
    assert (status, body) == (200, {"resource": [{"name": name}]})
    assert columns(pg, name) == {
        "id": ("integer", True, None),
        "name": ("character varying(80)", True, None),
        "complete": ("boolean", False, "false"),
    }
    status, body = api.post(f"{T}/{name}", [{"name": "first"}], fields="*")
    assert (status, body) == (200, {"resource": [{"id": 1, "name": "first", "complete": False}]})
    status, body = api.get(f"{S}/{name}")
    assert body["primary_key"] == ["id"] and body["field"][0]["type"] == "id"
    assert body["field"][1]["is_unique"] is True and body["field"][1]["required"] is True


def test_create_with_foreign_key_index_unique_and_defaults(
    api: Any, pg: Any, new_table: Any
) -> None:
    parent, child = new_table("parent"), new_table("child")
    status, body = create(
        api,
        {"name": parent, "field": [{"name": "id", "type": "pk"}, {"name": "code", "type": "text"}]},
        {
            "name": child,
            "description": "Lines of a parent",
            "field": [
                {"name": "id", "type": "bigid"},
                {
                    "name": "parent_id",
                    "type": "fk",
                    "ref_table": parent,
                    "ref_on_delete": "cascade",
                    "allow_null": True,
                },
                {"name": "sku", "type": "string", "length": 20, "is_index": True},
                {
                    "name": "serial",
                    "type": "uuid",
                    "is_unique": True,
                    "default": "gen_random_uuid()",
                },
                {"name": "qty", "type": "integer", "default": 1},
                {"name": "price", "type": "decimal", "precision": 10, "scale": 2, "default": 9.5},
                {"name": "note", "type": "text", "default": "'it''s new'", "allow_null": True},
                {"name": "created", "type": "timestamp_on_create", "description": "when"},
            ],
        },
        fields="*",
    )
    assert status == 200
    described = {f["name"]: f for f in body["resource"][1]["field"]}
    assert body["resource"][1]["description"] == "Lines of a parent"
    assert (described["parent_id"]["ref_table"], described["parent_id"]["ref_on_delete"]) == (
        parent,
        "CASCADE",
    )
    assert described["sku"]["is_index"] is True and described["serial"]["is_unique"] is True
    assert described["note"]["default"] == "it's new" and described["qty"]["default"] == 1
    assert described["price"]["default"] == 9.5 and described["created"]["description"] == "when"
    cols = columns(pg, child)
    assert cols["id"][0] == "bigint" and cols["price"][0] == "numeric(10,2)"
    assert cols["created"] == ("timestamp with time zone", True, "now()")
    assert cols["serial"][2] == "gen_random_uuid()"

    pg.execute(sql.SQL("INSERT INTO {} (code) VALUES ('p')").format(sql.Identifier(parent)))
    status, body = api.post(f"{T}/{child}", [{"parent_id": 1, "sku": "A"}], fields="qty,note")
    assert (status, body) == (200, {"resource": [{"qty": 1, "note": "it's new"}]})
    pg.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(parent)))
    assert (
        pg.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(child))).fetchone()[0]
        == 0
    )  # ON DELETE CASCADE


def test_post_existing_table_merges_unless_check_exist(api: Any, pg: Any, new_table: Any) -> None:
    name = new_table()
    create(api, {"name": name, "field": [{"name": "id", "type": "id"}]})
    status, body = create(
        api, {"name": name, "field": [{"name": "extra", "type": "text", "allow_null": True}]}
    )
    assert (status, body) == (200, {"resource": [{"name": name}]})
    assert list(columns(pg, name)) == ["id", "extra"]
    status, body = create(
        api, {"name": name, "field": [{"name": "more", "type": "text"}]}, check_exist="true"
    )
    assert status == 400
    assert body["error"]["message"] == f"A table with name '{name}' already exist in the database."
    assert list(columns(pg, name)) == ["id", "extra"]


def test_create_request_errors(api: Any, pg: Any, new_table: Any) -> None:
    name = new_table()
    status, body = api.post(S, {"name": name, "field": [{"name": "id", "type": "id"}]})
    assert status == 400 and body["error"]["message"] == "No data in schema create request."
    status, body = create(api, {"name": name, "field": [{"name": "id", "type": "id"}]}, {"x": 1})
    assert status == 400
    assert body["error"]["message"] == "Table schema received does not have a valid name."
    assert not table_exists(pg, name)  # nothing is created when one table has no name
    cases = [
        ([], "There are no fields in the requested schema."),
        ([{"name": "a", "type": "nonsense"}], "type 'nonsense' is not supported"),
        ([{"name": "a"}], "Invalid schema detected - no type or db_type element."),
        ([{"name": "a", "type": "reference"}], "no table element for reference type of a"),
        ([{"name": "a", "type": "reference", "ref_table": "nope"}], "'nope' does not exist"),
        ([{"name": "a", "ref_table": "todo", "ref_field": "nope"}], "'nope' does not exist"),
        ([{"name": "a", "type": "text", "ref_table": "todo", "ref_on_delete": "boom"}], "boom"),
        ([{"name": "a", "type": "string", "length": "long"}], "length must be a whole number"),
        ([{"type": "text"}], "no name element"),
        ([{"name": "a", "type": "text"}, {"name": "A", "type": "text"}], "listed twice"),
        ([{"name": "x" * 64, "type": "text"}], "at most 63 bytes"),
    ]
    for fields, message in cases:
        status, body = create(api, {"name": name, "field": fields})
        assert status == 400, fields
        assert message in body["error"]["message"], body
        assert not table_exists(pg, name)
    status, body = create(api, {"name": name, "field": [{"name": "v", "type": "virtual"}]})
    assert status == 501 and not table_exists(pg, name)


def test_several_tables_fail_alone_unless_rollback(api: Any, pg: Any, new_table: Any) -> None:
    good, bad, other = new_table(), new_table(), new_table()
    status, body = create(
        api,
        {"name": good, "field": [{"name": "id", "type": "id"}]},
        {"name": bad, "field": [{"name": "id", "type": "nonsense"}]},
    )
    assert status == 200
    assert body["resource"][0] == {"name": good}
    assert "nonsense" in body["resource"][1]["error"]["message"]
    assert body["resource"][1]["error"]["code"] == 400
    assert table_exists(pg, good) and not table_exists(pg, bad)

    status, body = create(
        api,
        {"name": other, "field": [{"name": "id", "type": "id"}]},
        {"name": bad, "field": [{"name": "id", "type": "nonsense"}]},
        rollback="true",
    )
    assert status == 400 and "nonsense" in body["error"]["message"]
    assert not table_exists(pg, other) and not table_exists(pg, bad)


def test_db_type_allowlist(api: Any, pg: Any, new_table: Any) -> None:
    name = new_table()
    status, body = create(
        api,
        {
            "name": name,
            "field": [
                {"name": "a", "db_type": "VARCHAR(40)"},
                {"name": "b", "db_type": "numeric", "precision": 10, "scale": 3},
                {"name": "c", "db_type": "timestamp(3) with time zone"},
                {"name": "d", "db_type": "integer[]", "allow_null": True},
                {"name": "e", "db_type": "character varying", "length": 12},
            ],
        },
    )
    assert status == 200, body
    assert [c[0] for c in columns(pg, name).values()] == [
        "character varying(40)",
        "numeric(10,3)",
        "timestamp(3) with time zone",
        "integer[]",
        "character varying(12)",
    ]
    other = new_table()
    for db_type in (
        "integer; DROP TABLE todo",
        "integer) ; DROP TABLE todo; --",
        "text DEFAULT 'x'",
        "mood",
        "pg_catalog.text",
        "varchar(10,2)",
    ):
        status, body = create(api, {"name": other, "field": [{"name": "a", "db_type": db_type}]})
        assert status == 400, db_type
        assert "is not supported" in body["error"]["message"] or "scale" in body["error"]["message"]
    assert not table_exists(pg, other) and todo_count(pg) == 5


def test_injection_in_names_and_defaults_stays_data(api: Any, pg: Any, new_table: Any) -> None:
    base = new_table()
    hostile = base + "; DROP TABLE todo; --"
    field = 'a"; DROP TABLE todo; --'
    default = "'); DROP TABLE todo; --"
    status, body = create(
        api,
        {
            "name": hostile,
            "field": [
                {"name": "id", "type": "id"},
                {"name": field, "type": "text", "default": default},
            ],
        },
    )
    assert (status, body) == (200, {"resource": [{"name": hostile}]})
    try:
        assert todo_count(pg) == 5
        assert columns(pg, hostile)[field][0] == "text"
        status, body = api.post(f"{T}/{quote(hostile)}", [{"id": 1}], fields="*")
        assert body == {"resource": [{"id": 1, field: default}]}
        status, body = api.get(f"{S}/{quote(hostile)}/_field/{quote(field)}")
        assert status == 200 and body["default"] == default
    finally:
        pg.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(hostile)))
    status, body = api.post(
        f"{S}/todo/_field", [{"name": "x", "type": "integer", "default": "1; DROP TABLE todo"}]
    )
    assert status == 400 and todo_count(pg) == 5
    assert "x" not in columns(pg, "todo")


# --- alter -----------------------------------------------------------------------------------


@pytest.fixture
def scratch(api: Any, pg: Any, new_table: Any) -> str:
    """A fresh table with a few rows: id, name varchar(80) not null, score text, note text."""
    name = new_table()
    status, body = create(
        api,
        {
            "name": name,
            "field": [
                {"name": "id", "type": "id"},
                {"name": "name", "type": "string", "length": 80},
                {"name": "score", "type": "text", "allow_null": True},
                {"name": "note", "type": "text", "allow_null": True, "default": "none"},
            ],
        },
    )
    assert status == 200, body
    pg.execute(
        sql.SQL("INSERT INTO {} (name, score) VALUES ('a', '1'), ('b', '22')").format(
            sql.Identifier(name)
        )
    )
    return name


def test_post_to_table_adds_a_field(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.post(
        f"{S}/{scratch}",
        {"field": [{"name": "flag", "type": "boolean", "default": True}]},
    )
    assert (status, body) == (200, {"name": scratch})
    assert columns(pg, scratch)["flag"] == ("boolean", True, "true")
    status, body = api.get(f"{T}/{scratch}", fields="flag")
    assert body == {"resource": [{"flag": True}, {"flag": True}]}


def test_alter_type_nullability_and_default(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.patch(
        f"{S}/{scratch}/_field",
        [
            {"name": "name", "length": 120, "allow_null": True},
            {"name": "score", "type": "integer", "allow_null": False, "default": 0},
            {"name": "note", "default": None},
        ],
    )
    assert (status, body) == (
        200,
        {"resource": [{"name": "name"}, {"name": "score"}, {"name": "note"}]},
    )
    cols = columns(pg, scratch)
    assert cols["name"] == ("character varying(120)", False, None)
    assert cols["score"] == ("integer", True, "0")
    assert cols["note"] == ("text", False, None)
    status, body = api.get(f"{T}/{scratch}", fields="score", order="id")
    assert body == {"resource": [{"score": 1}, {"score": 22}]}  # values converted, not lost
    status, body = api.put(f"{S}/{scratch}/_field/note", {"default": "'quoted'"}, fields="*")
    assert status == 200 and body["default"] == "quoted" and body["name"] == "note"


def test_failed_alter_changes_nothing(api: Any, pg: Any, scratch: str) -> None:
    pg.execute(
        sql.SQL("INSERT INTO {} (name, score) VALUES ('c', 'abc')").format(sql.Identifier(scratch))
    )
    before = catalog_snapshot(pg, scratch)
    status, body = api.patch(
        f"{S}/{scratch}",
        {
            "field": [
                {"name": "extra", "type": "text", "allow_null": True},
                {"name": "score", "type": "integer"},
            ]
        },
    )
    assert status == 400 and "abc" in body["error"]["message"]
    assert catalog_snapshot(pg, scratch) == before  # the added field was rolled back too
    pg.execute(sql.SQL("UPDATE {} SET note = NULL").format(sql.Identifier(scratch)))
    status, body = api.patch(f"{S}/{scratch}/_field/note", {"allow_null": False})
    assert status == 400 and "Field 'note' can not be NULL" in body["error"]["message"]
    assert catalog_snapshot(pg, scratch) == before


def test_rename_field_and_table(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.patch(f"{S}/{scratch}/_field/score", {"new_name": "points"})
    assert (status, body) == (200, {"name": "points"})
    assert list(columns(pg, scratch)) == ["id", "name", "points", "note"]
    status, body = api.get(f"{T}/{scratch}", fields="points", order="id")
    assert body == {"resource": [{"points": "1"}, {"points": "22"}]}  # data kept, served at once
    status, body = api.patch(f"{S}/{scratch}", {"new_name": scratch + "_renamed"})
    assert (status, body) == (200, {"name": scratch + "_renamed"})
    assert table_exists(pg, scratch + "_renamed") and not table_exists(pg, scratch)
    status, body = api.get(f"{T}/{scratch}_renamed", fields="name", order="id")
    assert body == {"resource": [{"name": "a"}, {"name": "b"}]}


def test_add_and_remove_index_unique_and_foreign_key(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.patch(
        f"{S}/{scratch}/_field",
        [
            {"name": "note", "is_index": True},
            {"name": "name", "is_unique": True},
            {"name": "todo_id", "type": "reference", "ref_table": "todo", "allow_null": True},
        ],
    )
    assert status == 200, body
    status, body = api.get(f"{S}/{scratch}/_field", ids="name,note,todo_id")
    name, note, todo_id = body["resource"]
    assert note["is_index"] is True and name["is_unique"] is True
    assert (todo_id["type"], todo_id["ref_table"], todo_id["ref_field"]) == (
        "reference",
        "todo",
        "id",
    )
    status, body = api.get(f"{S}/todo/_related")
    assert f"{scratch}_by_todo_id" in [r["name"] for r in body["resource"]]
    status, body = api.post(f"{T}/{scratch}", [{"name": "c", "todo_id": 999}])
    assert status == 400  # the foreign key is enforced

    status, body = api.patch(
        f"{S}/{scratch}/_field",
        [
            {"name": "note", "is_index": False},
            {"name": "name", "is_unique": False},
            {"name": "todo_id", "ref_table": "todo", "ref_on_delete": "SET NULL"},
        ],
    )
    assert status == 200, body
    status, body = api.get(f"{S}/{scratch}/_field", ids="name,note,todo_id")
    name, note, todo_id = body["resource"]
    assert note["is_index"] is False and name["is_unique"] is False
    assert todo_id["ref_on_delete"] == "SET NULL"
    status, body = api.delete(f"{S}/{scratch}/_related/todo_by_todo_id")
    assert (status, body) == (200, {"success": True})
    status, body = api.get(f"{S}/{scratch}/_field/todo_id")
    assert body["is_foreign_key"] is False and body["ref_table"] is None


def test_described_table_sent_back_changes_nothing(api: Any, pg: Any, scratch: str) -> None:
    api.patch(
        f"{S}/{scratch}/_field",
        [
            {"name": "name", "is_index": True, "description": "who"},
            {"name": "todo_id", "type": "reference", "ref_table": "todo", "allow_null": True},
        ],
    )
    before = catalog_snapshot(pg, scratch)
    status, described = api.get(f"{S}/{scratch}")
    status, body = api.put(f"{S}/{scratch}", described)
    assert (status, body) == (200, {"name": scratch})
    assert catalog_snapshot(pg, scratch) == before
    status, again = api.get(f"{S}/{scratch}")
    assert again == described


def test_put_replaces_fields_dropping_unlisted(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.put(
        f"{S}/{scratch}",
        {
            "field": [
                {"name": "id"},
                {"name": "name"},
                {"name": "added", "type": "date", "allow_null": True},
            ]
        },
    )
    assert (status, body) == (200, {"name": scratch})
    assert list(columns(pg, scratch)) == ["id", "name", "added"]
    status, body = api.patch(
        f"{S}/{scratch}", {"field": [{"name": "more", "type": "text", "allow_null": True}]}
    )
    assert list(columns(pg, scratch)) == ["id", "name", "added", "more"]  # PATCH keeps the rest
    status, body = api.put(S, [{"name": scratch, "field": [{"name": "id"}, {"name": "name"}]}])
    assert (status, body) == (200, {"resource": [{"name": scratch}]})
    assert list(columns(pg, scratch)) == ["id", "name"]


def test_patch_root_list_merges_and_creates(
    api: Any, pg: Any, scratch: str, new_table: Any
) -> None:
    fresh = new_table()
    status, body = api.patch(
        S,
        {
            "resource": [
                {"name": scratch, "field": [{"name": "extra", "type": "text", "allow_null": True}]},
                {"name": fresh, "field": [{"name": "id", "type": "id"}]},
            ]
        },
    )
    assert (status, body) == (200, {"resource": [{"name": scratch}, {"name": fresh}]})
    assert "extra" in columns(pg, scratch) and table_exists(pg, fresh)
    status, body = api.patch(S, {"name": scratch})
    assert status == 400 and body["error"]["message"] == "No data in schema update request."


def test_alterations_on_a_view_are_refused(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{S}/big_orders", {"field": [{"name": "x", "type": "text"}]})
    assert status == 400 and "is a view" in body["error"]["message"]
    assert "x" not in columns(pg, "big_orders")


# --- drop ------------------------------------------------------------------------------------


def test_drop_field(api: Any, pg: Any, scratch: str) -> None:
    status, body = api.delete(f"{S}/{scratch}/_field/score")
    assert (status, body) == (200, {"success": True})
    assert "score" not in columns(pg, scratch)
    status, body = api.get(f"{S}/{scratch}/_field/score")
    assert status == 404
    status, body = api.delete(f"{S}/{scratch}/_field", ids="note,name")
    assert (status, body) == (200, {"success": True})
    assert list(columns(pg, scratch)) == ["id"]
    status, body = api.delete(f"{S}/{scratch}/_field/nope")
    assert status == 404


def test_drop_tables(api: Any, pg: Any, new_table: Any) -> None:
    a, b, c = new_table(), new_table(), new_table()
    for name in (a, b, c):
        create(api, {"name": name, "field": [{"name": "id", "type": "id"}]})
    status, body = api.delete(f"{S}/{a}")
    assert (status, body) == (200, {"success": True})
    assert not table_exists(pg, a)
    status, body = api.get(f"{T}/{a}")
    assert status == 404
    status, body = api.delete(S, ids=f"{b},{c}")
    assert (status, body) == (200, {"resource": [{"name": b}, {"name": c}]})
    assert not table_exists(pg, b) and not table_exists(pg, c)
    status, body = api.delete(f"{S}/{a}")
    assert status == 404
    status, body = api.delete(S)
    assert status == 400 and body["error"]["message"] == "No data in schema delete request."


def test_refused_drops_change_nothing(api: Any, pg: Any, scratch: str, new_table: Any) -> None:
    view = scratch + "_v"
    pg.execute(
        sql.SQL("CREATE VIEW {} AS SELECT id, score FROM {}").format(
            sql.Identifier(view), sql.Identifier(scratch)
        )
    )
    status, body = api.delete(f"{S}/{scratch}/_field/score")
    assert status == 409
    assert "depend" in body["error"]["message"] and body["error"]["code"] == "2BP01"
    assert "score" in columns(pg, scratch) and table_exists(pg, view)
    status, body = api.patch(f"{S}/{scratch}/_field/score", {"type": "integer"})
    assert status == 409 and columns(pg, scratch)["score"][0] == "text"

    child = new_table()
    create(
        api, {"name": child, "field": [{"name": "p", "type": "reference", "ref_table": scratch}]}
    )
    status, body = api.delete(S, ids=f"{child}_none,{scratch}")
    assert status == 404  # unknown names are found before anything is dropped
    other = new_table()
    create(api, {"name": other, "field": [{"name": "id", "type": "id"}]})
    status, body = api.delete(S, ids=f"{other},{scratch}")
    assert status == 409
    assert table_exists(pg, other) and table_exists(pg, scratch)  # all or nothing


def test_verb_mask_is_enforced(api: Any, pg: Any, service: Any) -> None:
    role = make_role(
        "schema reader", [{"service": service, "component": "_schema/*", "verb_mask": 1}]
    )
    _, key = make_app("schema app", role)
    reader = client_for(api_key=key)
    status, body = reader.delete(f"{S}/todo")
    assert status == 401  # the app's role alone may not delete: a user must log in
    assert "DELETE" in str(body["error"]["context"]) and table_exists(pg, "todo")
    status, body = reader.get(f"{S}/todo")
    assert status == 200 and body["access"] == 1


def test_self_reference_and_post_to_existing_field_merges(
    api: Any, pg: Any, new_table: Any
) -> None:
    name = new_table()
    status, body = create(
        api,
        {
            "name": name,
            "field": [
                {"name": "id", "type": "id"},
                {"name": "parent_id", "type": "reference", "ref_table": name, "allow_null": True},
            ],
        },
    )
    assert status == 200, body
    status, body = api.get(f"{S}/{name}/_related")
    assert {r["type"] for r in body["resource"]} == {"belongs_to", "has_many"}
    status, body = api.post(f"{S}/{name}/_field", [{"name": "parent_id", "is_index": True}])
    assert (status, body) == (200, {"resource": [{"name": "parent_id"}]})
    status, body = api.get(f"{S}/{name}/_field/parent_id")
    assert body["is_index"] is True and body["is_foreign_key"] is True
    status, body = api.post(f"{S}/{name}/_field", {"name": "x", "type": "text"})
    assert status == 400 and body["error"]["message"] == "No data in schema create request."


def test_service_over_every_schema_creates_in_the_named_schema(
    api: Any, pg: Any, seeded: dict[str, Any]
) -> None:
    from services.models import Service
    from tests.conftest import service_kwargs

    Service.objects.create(**service_kwargs(seeded, name="everything", schema=""))
    name = f"t_{uuid.uuid4().hex[:8]}"
    try:
        status, body = api.post(
            "/api/v2/everything/_schema",
            [
                {
                    "name": f"other.{name}",
                    "field": [
                        {"name": "id", "type": "id"},
                        {"name": "secret_id", "type": "reference", "ref_table": "other.secret"},
                    ],
                }
            ],
        )
        assert (status, body) == (200, {"resource": [{"name": f"other.{name}"}]})
        status, body = api.get(f"/api/v2/everything/_schema/other.{name}/_field/secret_id")
        assert body["ref_table"] == "other.secret"
        status, body = api.get(f"{S}/{name}")
        assert status == 404  # `shop` serves public only
    finally:
        pg.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("other", name)))


def test_schema_change_reaches_other_processes(api: Any, pg: Any) -> None:
    """A second Registry stands for another worker process sharing the metadata DB."""
    from core.metadata import Stamp
    from services.registry import Registry

    other = Registry(Stamp())  # its own view of the version row, as another process has
    name = "cross_process_tbl"
    try:
        assert other.get("shop").schema().find_table(name) is None  # warm, stale-to-be cache
        status, body = api.post(
            "/api/v2/shop/_schema", [{"name": name, "field": [{"name": "id", "type": "id"}]}]
        )
        assert status == 200, body
        other.stamp._checked_at = 0.0  # its next poll (GATEWAY_METADATA_POLL_SECONDS later)
        assert other.get("shop").schema().find_table(name) is not None
    finally:
        other.close_all()
        pg.execute(f'DROP TABLE IF EXISTS "{name}"')
