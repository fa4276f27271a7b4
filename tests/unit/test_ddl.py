"""Unit tests for DDL types and statements (`services.sql.ddl*`) and `_schema` bodies: no DB."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg import sql

from core.errors import BadRequest, NotImplementedYet
from services.plan.table_spec import parse_field, parse_table, records
from services.sql import ddl, ddl_types


def render(composable: sql.Composable) -> str:
    return composable.as_string(None)


@pytest.mark.parametrize(
    ("kind", "props", "expected"),
    [
        ("id", {}, "integer"),
        ("bigid", {}, "bigint"),
        ("reference", {}, "integer"),
        ("string", {}, "character varying(255)"),
        ("string", {"length": 80}, "character varying(80)"),
        ("string", {"length": "3", "fixed_length": True}, "character(3)"),
        ("text", {"length": 80}, "text"),
        ("decimal", {}, "numeric"),
        ("decimal", {"precision": 12, "scale": 2}, "numeric(12,2)"),
        ("decimal", {"length": 7}, "numeric(7)"),
        ("float", {}, "real"),
        ("double", {}, "double precision"),
        ("datetime", {}, "timestamp without time zone"),
        ("timestamptz", {}, "timestamp with time zone"),
        ("timestamp_on_create", {}, "timestamp with time zone"),
        ("binary", {}, "bytea"),
        ("money", {}, "money"),
        ("jsonb", {}, "jsonb"),
        ("uuid", {}, "uuid"),
    ],
)
def test_simple_types(kind: str, props: dict[str, Any], expected: str) -> None:
    assert ddl_types.simple_type(kind, props, "f").text == expected


def test_unknown_simple_type_and_bad_lengths_are_400() -> None:
    with pytest.raises(BadRequest, match="type 'blob' is not supported"):
        ddl_types.simple_type("blob", {}, "f")
    with pytest.raises(BadRequest, match="length must be a whole number"):
        ddl_types.simple_type("string", {"length": "80); DROP TABLE x; --"}, "f")
    with pytest.raises(BadRequest, match="precision"):
        ddl_types.simple_type("decimal", {"precision": 2, "scale": 5}, "f")


@pytest.mark.parametrize(
    ("db_type", "expected"),
    [
        ("integer", "integer"),
        ("INT8", "bigint"),
        ("varchar(40)", "character varying(40)"),
        ("character  varying ( 40 )", "character varying(40)"),
        ("numeric(10, 3)", "numeric(10,3)"),
        ("timestamptz", "timestamp with time zone"),
        ("timestamp(3) with time zone", "timestamp(3) with time zone"),
        ("time", "time without time zone"),
        ("timestamp without time zone", "timestamp without time zone"),
        ("integer[]", "integer[]"),
        ("text[][]", "text[][]"),
        ("bpchar(2)", "character(2)"),
    ],
)
def test_db_type_allowlist_respells(db_type: str, expected: str) -> None:
    assert ddl_types.parse_db_type(db_type, "f").text == expected


@pytest.mark.parametrize(
    "db_type",
    [
        "integer; DROP TABLE todo",
        "integer) ; DROP TABLE todo; --",
        "text DEFAULT 'x'",
        'text COLLATE "C"',
        "pg_catalog.text",
        "mood",
        "integer(5)",
        "varchar(10,2)",
        "timestamp(9)",
        "",
        "numeric(0)",
    ],
)
def test_db_type_outside_the_allowlist_is_refused(db_type: str) -> None:
    with pytest.raises(BadRequest):
        ddl_types.parse_db_type(db_type, "f")


_VOCABULARY = re.compile(
    r"[a-z ]+(\(\d+(,\d+)?\))?( with(out)? time zone)?(\[\])*",
)


@given(st.text(max_size=40))
def test_any_db_type_is_refused_or_spelled_from_the_vocabulary(db_type: str) -> None:
    try:
        spelled = ddl_types.parse_db_type(db_type, "f").text
    except BadRequest:
        return
    assert _VOCABULARY.fullmatch(spelled), spelled


@given(st.text())
def test_any_default_is_one_quoted_literal(value: str) -> None:
    if "\x00" in value:
        with pytest.raises(BadRequest, match="NUL"):
            ddl_types.default_value(value, "f")
        return
    rendered = render(ddl_types.default_value(value, "f"))
    if rendered in set(ddl_types._DEFAULT_EXPRESSIONS.values()):  # the known expressions
        return
    # one string literal (E'' when it holds backslashes), quotes inside doubled
    assert re.fullmatch(r" ?(?:'(?:[^']|'')*'|E'(?:[^'\\]|''|\\.)*')", rendered, re.DOTALL), (
        rendered
    )


def test_defaults() -> None:
    assert render(ddl_types.default_value(True, "f")) == "true"
    assert render(ddl_types.default_value(7, "f")) == "7"
    assert render(ddl_types.default_value(Decimal("9.50"), "f")) == "9.50"
    assert render(ddl_types.default_value("now()", "f")) == "now()"
    assert render(ddl_types.default_value(" Current_Timestamp ", "f")) == "CURRENT_TIMESTAMP"
    assert (
        render(ddl_types.default_value("'it''s'", "f")) == "'it''s'"
    )  # DF's quoted form, unquoted
    assert render(ddl_types.default_value("now(); DROP TABLE x", "f")) == "'now(); DROP TABLE x'"
    assert render(ddl_types.default_value({"a": 1}, "f")) == "'{\"a\": 1}'"
    with pytest.raises(BadRequest):
        ddl_types.default_value(object(), "f")


def test_fk_actions() -> None:
    assert ddl_types.fk_action("set_null", "f", "ref_on_delete") == "SET NULL"
    assert ddl_types.fk_action(" cascade ", "f", "ref_on_delete") == "CASCADE"
    assert ddl_types.fk_action(None, "f", "ref_on_delete") is None
    with pytest.raises(BadRequest, match="ref_on_delete must be one of"):
        ddl_types.fk_action("CASCADE; DROP TABLE x", "f", "ref_on_delete")


def test_statements_quote_every_name() -> None:
    table = ddl.table_ref("public", 'x"; DROP TABLE todo; --')
    column = ddl.column_definition(
        'a"b',
        ddl_types.SqlType("integer"),
        identity=True,
        default=None,
        references=(ddl.table_ref("public", "todo"), "id", "CASCADE", None),
    )
    assert render(ddl.create_table(table, [column], ['a"b'])) == (
        'CREATE TABLE "public"."x""; DROP TABLE todo; --" ("a""b" integer GENERATED BY '
        'DEFAULT AS IDENTITY NOT NULL REFERENCES "public"."todo" ("id") ON DELETE CASCADE, '
        'PRIMARY KEY ("a""b"))'
    )
    assert render(ddl.set_type(table, "c", ddl_types.SqlType("integer"))) == (
        'ALTER TABLE "public"."x""; DROP TABLE todo; --" ALTER COLUMN "c" TYPE integer '
        'USING "c"::integer'
    )
    assert render(ddl.comment_on_column(table, "c", "it's")) == (
        'COMMENT ON COLUMN "public"."x""; DROP TABLE todo; --"."c" IS \'it\'\'s\''
    )
    assert render(ddl.drop_relation(table, is_view=False)).endswith('--"')  # never CASCADE


def test_parse_table_and_field_bodies() -> None:
    spec = parse_table(
        {"Name": "t", "FIELD": {"name": "a", "type": "PK", "allow_null": "no"}, "new_name": "u"}
    )
    assert spec.name == "t" and spec.new_name == "u"
    assert spec.fields is not None and spec.fields[0].type == "id"
    assert spec.fields[0].get("allow_null") is False
    assert parse_field({"name": "x", "type": "fk"}).type == "reference"
    assert parse_field({"type": "text"}, name="from_url").name == "from_url"
    with pytest.raises(BadRequest, match="does not have a valid name"):
        parse_table({"field": []})
    with pytest.raises(BadRequest, match="63 bytes"):
        parse_field({"name": "é" * 32, "type": "text"})
    with pytest.raises(NotImplementedYet):
        parse_table({"name": "t", "related": [{"name": "r", "is_virtual": True}]})
    assert records({"name": "t"}) is None
    assert records({"resource": [{"name": "t"}]}) == [{"name": "t"}]
    assert records([{"name": "t"}]) == [{"name": "t"}]
