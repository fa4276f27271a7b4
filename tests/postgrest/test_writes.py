"""Writes through `/rest/<service>/<table>` with the real PostgREST Python client (issue #14,
stage 2): inserts (single, bulk, `columns`, CSV), upserts, PATCH and DELETE with filters, the
`Prefer` options (return, missing, tx, count, max-affected), PostgREST's error bodies, and the
role's row filter."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import httpx
import psycopg
import pytest
from postgrest import SyncPostgrestClient
from postgrest.types import CountMethod, ReturnMethod

from tests.conftest import SEED_SQL
from tests.postgrest.conftest import Rest, _ok, answers, app_key, caught_error

pytestmark = pytest.mark.slow
HEADERS_ONLY = cast(ReturnMethod, "headers-only")  # the client's enum lacks it; it sends any


@pytest.fixture(autouse=True)
def reseed(fixture_db: dict[str, Any]) -> None:
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute(SEED_SQL)


@pytest.fixture
def db(fixture_db: dict[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    """The fixture database itself: what a write really left there."""
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        yield conn


def _rows(db: psycopg.Connection[Any], query: str) -> list[tuple[Any, ...]]:
    return db.execute(query).fetchall()


def _client(rest: Rest, **headers: str) -> Any:
    """The admin's client (typed loosely: the rows a write answers are the tests' to read)."""
    return rest.client(**headers)


def _app(rest: Rest) -> Any:
    return rest.app_client()


def _post(rest: Rest, table: str, body: bytes, **headers: str) -> httpx.Response:
    """A raw POST (for bodies the client cannot send: CSV, broken JSON)."""
    return httpx.post(
        f"{rest.base_url}/{table}",
        content=body,
        headers={"Authorization": f"Bearer {rest.admin_token}", **headers},
    )


# --- POST -----------------------------------------------------------------------------------


def test_insert_one_object_returns_the_row_with_201(rest: Rest, db: Any) -> None:
    client = _client(rest)
    with answers(client) as seen:
        data = client.from_("customers").insert({"name": "Hooli", "country": "GB"}).execute().data
    assert seen[-1].status_code == 201
    assert data[0]["name"] == "Hooli" and data[0]["id"] == 4 and data[0]["email"] is None
    assert seen[-1].headers["Preference-Applied"] == "return=representation"
    assert _rows(db, "SELECT name, country FROM customers WHERE id = 4") == [("Hooli", "GB")]


def test_bulk_insert_writes_every_row_with_nulls_for_missing_keys(rest: Rest, db: Any) -> None:
    rows = [{"name": "A", "email": "a@x.io"}, {"name": "B"}]  # the client sends columns=
    data = _client(rest).from_("customers").insert(rows).execute().data
    assert [(r["name"], r["email"]) for r in data] == [("A", "a@x.io"), ("B", None)]
    # a key one object lacks is NULL (PostgREST's default); a column no object names takes
    # its default
    assert _rows(db, "SELECT name, email, country FROM customers WHERE id > 3 ORDER BY id") == [
        ("A", "a@x.io", "US"),
        ("B", None, "US"),
    ]


def test_missing_default_takes_the_column_default(rest: Rest, db: Any) -> None:
    rows = [{"name": "A", "country": "FR"}, {"name": "B"}]
    client = _client(rest)
    with answers(client) as seen:
        client.from_("customers").insert(rows, default_to_null=False).execute()
    assert "missing=default" in seen[-1].headers["Preference-Applied"]
    assert _rows(db, "SELECT name, country FROM customers WHERE id > 3 ORDER BY id") == [
        ("A", "FR"),
        ("B", "US"),
    ]


def test_columns_parameter_uses_only_those_keys(rest: Rest, db: Any) -> None:
    response = _post(
        rest,
        "customers?columns=name,email",
        b'[{"name": "A", "email": "a@x.io", "country": "FR", "nope": 1}]',
        **{"Content-Type": "application/json"},
    )
    assert response.status_code == 201 and response.content == b""  # return=minimal
    assert _rows(db, "SELECT name, email, country FROM customers WHERE id = 4") == [
        ("A", "a@x.io", "US")
    ]


def test_bulk_without_columns_needs_matching_keys(rest: Rest, db: Any) -> None:
    response = _post(rest, "customers", b'[{"name": "A"}, {"email": "b@x.io"}]')
    assert response.status_code == 400 and response.json()["code"] == "PGRST102"
    assert _rows(db, "SELECT count(*) FROM customers") == [(3,)]


def test_csv_body_inserts_rows(rest: Rest, db: Any) -> None:
    response = _post(
        rest,
        "orders",
        b"customer_id,total,status\n1,10.50,new\n,3,paid\n",
        **{"Content-Type": "text/csv", "Prefer": "return=representation"},
    )
    assert response.status_code == 201, response.text
    assert [(r["customer_id"], r["total"]) for r in response.json()] == [(1, 10.5), (None, 3)]
    assert _rows(db, "SELECT status FROM orders WHERE id > 4 ORDER BY id") == [("new",), ("paid",)]


def test_return_minimal_and_headers_only(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        client.from_("todo").insert({"name": "n1"}, returning=ReturnMethod.minimal).execute()
    assert seen[-1].status_code == 201 and seen[-1].content == b""
    assert "Location" not in seen[-1].headers
    with answers(client) as seen:
        client.from_("todo").insert({"name": "n2"}, returning=HEADERS_ONLY).execute()
    assert seen[-1].status_code == 201 and seen[-1].content == b""
    assert seen[-1].headers["Location"] == "/todo?id=eq.7"
    assert seen[-1].headers["Preference-Applied"] == "return=headers-only"


def test_insert_answers_select_outputs_and_a_count(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        result = (
            client.from_("orders")
            .insert(
                [{"total": 1, "status": "a"}, {"total": 2, "status": "b"}], count=CountMethod.exact
            )
            .select("id,amount:total")
            .execute()
        )
    assert result.data == [{"id": 5, "amount": 1}, {"id": 6, "amount": 2}]
    assert result.count == 2 and seen[-1].headers["Content-Range"] == "*/2"


# --- upsert ---------------------------------------------------------------------------------


def test_upsert_merges_duplicates_on_the_primary_key(rest: Rest, db: Any) -> None:
    rows = [{"id": 1, "name": "Acme 2"}, {"id": 9, "name": "New"}]
    client = _client(rest)
    with answers(client) as seen:
        data = client.from_("customers").upsert(rows).execute().data
    assert seen[-1].status_code == 201
    assert "resolution=merge-duplicates" in seen[-1].headers["Preference-Applied"]
    assert sorted(r["name"] for r in data) == ["Acme 2", "New"]
    assert _rows(db, "SELECT id, name, email FROM customers WHERE id IN (1, 9) ORDER BY id") == [
        (1, "Acme 2", "acme@example.com"),  # columns not sent are left alone
        (9, "New", None),
    ]


def test_upsert_on_a_unique_column_ignoring_duplicates(rest: Rest, db: Any) -> None:
    rows = [{"name": "Acme", "email": "changed@x.io"}, {"name": "Umbrella", "email": "u@x.io"}]
    data = (
        _client(rest)
        .from_("customers")
        .upsert(rows, on_conflict="name", ignore_duplicates=True)
        .execute()
        .data
    )
    assert [r["name"] for r in data] == ["Umbrella"]  # the duplicate is skipped, not returned
    assert _rows(db, "SELECT email FROM customers WHERE name = 'Acme'") == [("acme@example.com",)]
    merged = (
        _client(rest)
        .from_("customers")
        .upsert({"name": "Acme", "email": "merged@x.io"}, on_conflict="name")
        .execute()
        .data
    )
    assert merged[0]["id"] == 1 and merged[0]["email"] == "merged@x.io"


def test_upsert_on_an_unknown_column_is_pgrst204(rest: Rest) -> None:
    error = caught_error(
        lambda: _client(rest).from_("customers").upsert({"name": "x"}, on_conflict="nope").execute()
    )
    assert error.code == "PGRST204" and "nope" in (error.message or "")


# --- PATCH and DELETE -----------------------------------------------------------------------


def test_update_with_filters_returns_the_changed_rows(rest: Rest, db: Any) -> None:
    client = _client(rest)
    with answers(client) as seen:
        data = client.from_("orders").update({"status": "paid"}).eq("customer_id", 1).execute().data
    assert seen[-1].status_code == 200
    assert sorted(r["id"] for r in data) == [1, 2] and {r["status"] for r in data} == {"paid"}
    assert _rows(db, "SELECT id FROM orders WHERE status = 'paid' ORDER BY id") == [(1,), (2,)]


def test_update_minimal_is_204_with_the_count(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        result = (
            client.from_("todo")
            .update({"complete": True}, returning=ReturnMethod.minimal, count=CountMethod.exact)
            .in_("id", [1, 3])
            .execute()
        )
    assert seen[-1].status_code == 204 and result.count == 2
    assert seen[-1].headers["Content-Range"] == "0-1/2"


def test_delete_with_filters(rest: Rest, db: Any) -> None:
    client = _client(rest)
    with answers(client) as seen:
        data = client.from_("todo").delete().eq("complete", True).execute().data
    assert seen[-1].status_code == 200 and sorted(r["name"] for r in data) == ["test2", "test5"]
    assert _rows(db, "SELECT count(*) FROM todo") == [(3,)]
    with answers(client) as seen:
        client.from_("todo").delete(returning=ReturnMethod.minimal).lt("id", 2).execute()
    assert seen[-1].status_code == 204
    assert _rows(db, "SELECT count(*) FROM todo") == [(2,)]


def test_delete_without_filters_deletes_every_row(rest: Rest, db: Any) -> None:
    _client(rest).from_("line_keys").delete().execute()  # as PostgREST does
    assert _rows(db, "SELECT count(*) FROM line_keys") == [(0,)]


def test_max_affected_with_strict_handling_refuses_and_writes_nothing(rest: Rest, db: Any) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("todo").delete().gt("id", 1).max_affected(2).execute()
        )
    assert error.code == "PGRST124" and seen[-1].status_code == 400
    assert "4" in str(error.details)
    assert _rows(db, "SELECT count(*) FROM todo") == [(5,)]
    data = client.from_("todo").delete().gt("id", 3).max_affected(2).execute().data
    assert len(data) == 2


def test_tx_rollback_answers_as_if_committed_and_writes_nothing(rest: Rest, db: Any) -> None:
    client = _client(rest, Prefer="return=representation, tx=rollback")
    with answers(client) as seen:
        data = client.from_("todo").update({"name": "dry"}).eq("id", 1).execute().data
    assert data[0]["name"] == "dry"
    assert "tx=rollback" in seen[-1].headers["Preference-Applied"]
    assert _rows(db, "SELECT name FROM todo WHERE id = 1") == [("test1",)]


# --- errors ---------------------------------------------------------------------------------


def test_unique_violation_is_409_23505(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").insert({"name": "Acme"}).execute())
    assert error.code == "23505" and seen[-1].status_code == 409


def test_foreign_key_violation_is_409_23503(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("orders").insert({"customer_id": 99}).execute())
    assert error.code == "23503" and seen[-1].status_code == 409


def test_not_null_violation_is_400_23502(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").insert({"email": "x@y.z"}).execute())
    assert error.code == "23502" and seen[-1].status_code == 400


def test_failed_bulk_insert_writes_nothing(rest: Rest, db: Any) -> None:
    rows = [{"name": "Fresh"}, {"name": "Acme"}]
    error = caught_error(lambda: _client(rest).from_("customers").insert(rows).execute())
    assert error.code == "23505"
    assert _rows(db, "SELECT count(*) FROM customers") == [(3,)]


def test_bad_json_is_400_pgrst102(rest: Rest) -> None:
    response = _post(rest, "customers", b'{"name": ', **{"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "PGRST102"


def test_unknown_column_is_400_pgrst204(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").insert({"nope": 1}).execute())
    assert error.code == "PGRST204" and seen[-1].status_code == 400
    assert error.message == "Could not find the 'nope' column of 'customers' in the schema cache"


def test_bad_value_is_400_not_500(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("orders").update({"total": "lots"}).eq("id", 1).execute()
        )
    assert error.code == "22P02" and seen[-1].status_code == 400


# --- security -------------------------------------------------------------------------------


def test_a_role_without_the_verb_is_refused(rest: Rest, db: Any) -> None:
    client = _app(rest)  # the reader role may only GET orders
    with answers(client) as seen:
        caught_error(lambda: client.from_("orders").delete().eq("id", 1).execute())
    assert seen[-1].status_code == 401  # no user signed in: sign in (403 for a signed-in user)
    assert _rows(db, "SELECT count(*) FROM orders") == [(4,)]


@pytest.fixture(scope="module")
def writer_key(rest: Rest) -> str:
    """An app whose role writes customers of the US only (a row filter), and may read and
    create orders (not update them)."""
    as_admin = {"X-DreamFactory-Session-Token": rest.admin_token}
    service = _ok(
        rest.server.call("GET", "/api/v2/system/service?filter=name=shop", headers=as_admin)
    )
    service_id = service["resource"][0]["id"]
    access = [
        {
            "service_id": service_id,
            "component": "_table/customers",
            "verb_mask": 31,
            "requestor_mask": 1,
            "filters": [{"name": "country", "operator": "=", "value": "US"}],
            "filter_op": "AND",
        },
        {
            "service_id": service_id,
            "component": "_table/orders",
            "verb_mask": 3,
            "requestor_mask": 1,
        },
    ]
    return app_key(rest.server, rest.admin_token, "writer", access)


def _writer(rest: Rest, key: str) -> Any:
    return SyncPostgrestClient(rest.base_url, headers={"apikey": key})


def test_row_filter_limits_updates_and_deletes(rest: Rest, writer_key: str, db: Any) -> None:
    client = _writer(rest, writer_key)
    data = client.from_("customers").update({"email": "all@x.io"}).gt("id", 0).execute().data
    assert sorted(r["name"] for r in data) == ["Acme", "Initech"]  # Globex is in DE
    assert _rows(db, "SELECT email FROM customers WHERE name = 'Globex'") == [
        ("globex@example.com",)
    ]
    deleted = client.from_("customers").delete().eq("name", "Globex").execute().data
    assert deleted == []
    assert _rows(db, "SELECT count(*) FROM customers") == [(3,)]


def test_row_filter_refuses_a_row_outside_it(rest: Rest, writer_key: str, db: Any) -> None:
    client = _writer(rest, writer_key)
    rows = [{"name": "Ok", "country": "US"}, {"name": "Out", "country": "FR"}]
    with answers(client) as seen:
        error = caught_error(lambda: client.from_("customers").insert(rows).execute())
    assert seen[-1].status_code == 403 and error.code == "42501"
    assert _rows(db, "SELECT count(*) FROM customers") == [(3,)]  # all or nothing
    moved = caught_error(
        lambda: client.from_("customers").update({"country": "FR"}).eq("id", 1).execute()
    )
    assert moved.code == "42501"
    assert _rows(db, "SELECT country FROM customers WHERE id = 1") == [("US",)]


# --- more of the grammar --------------------------------------------------------------------


def test_single_object_answer_of_a_write(rest: Rest, db: Any) -> None:
    client = _client(rest)
    row = client.from_("todo").update({"complete": True}).eq("id", 3).single().execute().data
    assert row["id"] == 3 and row["complete"] is True
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("todo").update({"complete": True}).gt("id", 3).single().execute()
        )
    assert error.code == "PGRST116" and seen[-1].status_code == 406
    assert _rows(db, "SELECT count(*) FROM todo WHERE complete") == [(3,)]  # 2 seeded, and id 3


def test_on_conflict_needs_a_unique_constraint(rest: Rest) -> None:
    client = _client(rest)
    with answers(client) as seen:
        error = caught_error(
            lambda: client.from_("customers").upsert({"name": "Z"}, on_conflict="email").execute()
        )
    assert error.code == "42P10" and seen[-1].status_code == 400


def test_strict_handling_refuses_unknown_preferences(rest: Rest, db: Any) -> None:
    client = _client(rest, Prefer="handling=strict, return=minimal, frobnicate")
    error = caught_error(lambda: client.from_("todo").delete().eq("id", 1).execute())
    assert error.code == "PGRST122" and "frobnicate" in str(error.details)
    assert _rows(db, "SELECT count(*) FROM todo") == [(5,)]


def test_reads_see_a_write_at_once(rest: Rest) -> None:
    client = _client(rest)
    before = client.from_("todo").select("name").eq("complete", True).execute().data
    client.from_("todo").update({"complete": True}).eq("id", 1).execute()
    after = client.from_("todo").select("name").eq("complete", True).execute().data
    assert len(after) == len(before) + 1  # the data cache dropped the table's answers


def test_put_is_405_with_the_allowed_methods(rest: Rest) -> None:
    response = httpx.put(
        f"{rest.base_url}/todo?id=eq.1",
        json={"id": 1, "name": "x"},
        headers={"Authorization": f"Bearer {rest.admin_token}"},
    )
    assert response.status_code == 405 and response.json()["code"] == "PGRST117"
    assert "POST" in response.headers["Allow"]


def test_views_are_written_when_postgresql_can(rest: Rest, db: Any) -> None:
    client = _client(rest)
    data = client.from_("big_orders").insert({"customer_id": 2, "total": 500}).execute().data
    assert data[0]["total"] == 500
    assert _rows(db, "SELECT customer_id FROM orders WHERE total = 500") == [(2,)]
    with answers(client) as seen:
        caught_error(lambda: client.from_("order_totals").insert({"customer_id": 1}).execute())
    assert 400 <= seen[-1].status_code < 500  # PostgreSQL cannot write through a GROUP BY


def test_an_upsert_that_merges_needs_patch_too(rest: Rest, writer_key: str, db: Any) -> None:
    client = _writer(rest, writer_key)
    data = client.from_("orders").insert({"total": 7}).execute().data  # POST alone: fine
    assert data[0]["total"] == 7
    with answers(client) as seen:
        caught_error(lambda: client.from_("orders").upsert({"id": 1, "total": 8}).execute())
    assert seen[-1].status_code == 401  # no PATCH on orders (no user signed in: 401)
    assert _rows(db, "SELECT total FROM orders WHERE id = 1") == [(Decimal("99.50"),)]
    ignored = client.from_("orders").upsert({"id": 1, "total": 8}, ignore_duplicates=True).execute()
    assert ignored.data == []  # DO NOTHING updates nothing: POST is enough


def test_a_merge_leaves_rows_outside_the_row_filter_alone(
    rest: Rest, writer_key: str, db: Any
) -> None:
    client = _writer(rest, writer_key)
    data = (
        client.from_("customers").upsert({"id": 2, "name": "Globex US", "country": "US"}).execute()
    )
    assert data.data == []  # Globex (DE) is not the role's to update
    assert _rows(db, "SELECT name FROM customers WHERE id = 2") == [("Globex",)]
