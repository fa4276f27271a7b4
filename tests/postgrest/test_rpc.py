"""Calls through `/rest/<service>/rpc/<fn>` with the real PostgREST Python client (issue #14,
item 3): named arguments, a single JSON argument, GET for reads, scalar and set results
shaped by select/filters/order/limit, procedures, errors, and the role's `_func`/`_proc`
grants as on `/api/v2`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from postgrest import CountMethod, SyncPostgrestClient

from tests.postgrest.conftest import Rest, answers, app_key, caught_error

pytestmark = pytest.mark.slow

_UNNAMED_JSON = (
    "CREATE OR REPLACE FUNCTION pgrst_rpc_keys(jsonb) RETURNS integer LANGUAGE sql IMMUTABLE"
    " AS 'SELECT count(*)::integer FROM jsonb_object_keys($1)'"
)


@pytest.fixture(scope="module")
def unnamed_json_fn(fixture_db: dict[str, Any]) -> Iterator[None]:
    """A function whose one parameter is an unnamed jsonb (dropped again after the module)."""
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute(_UNNAMED_JSON)
    yield
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        conn.execute("DROP FUNCTION IF EXISTS pgrst_rpc_keys(jsonb)")


@pytest.fixture(scope="module")
def caller(rest: Rest) -> SyncPostgrestClient:
    """An app whose role may GET `_func/add_numbers` and GET or POST `_func/orders_by_status`
    and `_proc/order_stats`, and nothing else."""
    server = rest.server
    as_admin = {"X-DreamFactory-Session-Token": rest.admin_token}
    _, services, _ = server.call("GET", "/api/v2/system/service?filter=name=shop", headers=as_admin)
    service_id = services["resource"][0]["id"]
    access = [
        {"service_id": service_id, "component": component, "verb_mask": mask, "requestor_mask": 1}
        for component, mask in (
            ("_func/add_numbers", 1),
            ("_func/orders_by_status", 3),
            ("_proc/order_stats", 3),
        )
    ]
    key = app_key(server, rest.admin_token, "caller", access)
    return SyncPostgrestClient(rest.base_url, headers={"apikey": key})


# --- arguments and results ------------------------------------------------------------------


def test_post_with_named_arguments_answers_the_bare_scalar(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        assert client.rpc("add_numbers", {"a": 2, "b": 40}).execute().data == 42
    assert seen[-1].status_code == 200 and seen[-1].request.method == "POST"
    assert seen[-1].content == b"42"


def test_omitted_arguments_take_their_defaults(rest: Rest) -> None:
    assert rest.client().rpc("greet", {"p_name": "Ann"}).execute().data == "Hello, Ann!"
    data = rest.client().rpc("greet", {"p_name": "Bo", "p_punct": "?"}).execute().data
    assert data == "Hello, Bo?"


def test_overloads_are_chosen_by_the_argument_names(rest: Rest) -> None:
    assert rest.client().rpc("area", {"p_radius": 1}).execute().data == 3.14
    assert rest.client().rpc("area", {"p_width": 2, "p_height": 3}).execute().data == 6


def test_get_passes_arguments_in_the_query(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        assert client.rpc("add_numbers", {"a": 1, "b": 2}, get=True).execute().data == 3
    request = seen[-1].request
    assert request.method == "GET" and request.url.params["a"] == "1"


def test_get_on_a_volatile_function_is_405_pgrst101(rest: Rest, fixture_db: dict[str, Any]) -> None:
    # PostgREST: a VOLATILE function (the default) allows only POST; journal_note writes
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.rpc("journal_note", {"p_note": "x"}, get=True).execute()
        )
    assert seen[-1].status_code == 405 and error.code == "PGRST101"
    assert seen[-1].headers["allow"] == "OPTIONS,POST"
    with psycopg.connect(fixture_db["conninfo"]) as conn:
        found = conn.execute("SELECT count(*) FROM routine_data.journal WHERE note = 'x'")
        assert found.fetchone() == (0,)
    assert client.rpc("echo_text", {"p_value": "a"}).execute().data == "a"  # POST: called


def test_void_function_answers_204(rest: Rest, fixture_db: dict[str, Any]) -> None:
    client = rest.client()
    with answers(client) as seen:
        client.rpc("journal_note", {"p_note": "via rpc"}).execute()
    assert seen[-1].status_code == 204 and seen[-1].content == b""
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        found = conn.execute("DELETE FROM routine_data.journal WHERE note = 'via rpc'")
        assert found.rowcount == 1


def test_single_object_passes_the_whole_body_to_the_json_parameter(rest: Rest) -> None:
    client = rest.client(Prefer="params=single-object")
    doc = {"kind": "story", "tags": ["a", "b"], "n": 1}
    assert client.rpc("echo_json", doc).execute().data == doc


def test_a_single_unnamed_jsonb_parameter_takes_the_whole_body(
    rest: Rest, unnamed_json_fn: None
) -> None:
    assert rest.client().rpc("pgrst_rpc_keys", {"x": 1, "y": 2, "z": 3}).execute().data == 3


def test_one_composite_row_is_an_object(rest: Rest) -> None:
    data = rest.client().rpc("order_summary", {"p_id": 1}).execute().data
    assert data == {"id": 1, "total": 99.5, "status": "new"}


# --- set-returning functions ----------------------------------------------------------------


def test_set_returning_function_takes_select_filters_order_and_limit(rest: Rest) -> None:
    client = rest.client()
    rows = (
        client.rpc("orders_by_status", {"p_status": "new"})
        .select("id,amount:total")
        .gt("total", 10)
        .order("total", desc=True)
        .execute()
        .data
    )
    assert rows == [{"id": 1, "amount": 99.5}, {"id": 3, "amount": 12.34}]
    paged = (
        client.rpc("orders_by_status", {"p_status": "new"})
        .select("id")
        .order("id")
        .limit(1)
        .offset(1)
        .execute()
        .data
    )
    assert paged == [{"id": 3}]


def test_returns_table_rows_are_filtered_by_their_columns(rest: Rest) -> None:
    rows = (
        rest.client()
        .rpc("customer_totals", {})
        .gte("order_count", 1)
        .order("spent", desc=True)
        .execute()
        .data
    )
    assert [r["customer"] for r in rows] == ["Acme", "Globex"]
    assert rows[0]["order_count"] == 2


def test_set_of_scalars_answers_bare_values_filtered_by_the_function_name(rest: Rest) -> None:
    client = rest.client()
    assert client.rpc("countdown", {"p_from": 4}).execute().data == [4, 3, 2, 1]
    assert client.rpc("countdown", {"p_from": 4}).lt("countdown", 3).execute().data == [2, 1]


def test_get_shapes_the_rows_with_the_remaining_query_keys(rest: Rest) -> None:
    rows = (
        rest.client()
        .rpc("orders_by_status", {"p_status": "new"}, get=True)
        .select("id")
        .eq("id", 3)
        .execute()
        .data
    )
    assert rows == [{"id": 3}]


def test_count_and_content_range_on_a_set(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        response = (
            client.rpc("orders_by_status", {"p_status": "new"}, count=CountMethod.exact)
            .select("id")
            .order("id")
            .limit(1)
            .execute()
        )
    assert response.data == [{"id": 1}] and response.count == 2
    assert seen[-1].status_code == 206 and seen[-1].headers["content-range"] == "0-0/2"


def test_head_answers_the_count_without_rows(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        response = client.rpc(
            "orders_by_status", {"p_status": "new"}, head=True, count=CountMethod.exact
        ).execute()
    assert response.count == 2 and seen[-1].content == b""


def test_one_object_of_a_set(rest: Rest) -> None:
    data = (
        rest.client()
        .rpc("orders_by_status", {"p_status": "new"})
        .select("id,status")
        .eq("id", 3)
        .single()
        .execute()
        .data
    )
    assert data == {"id": 3, "status": "new"}


def test_filters_on_a_scalar_function_are_refused_not_dropped(rest: Rest) -> None:
    error = caught_error(
        lambda: rest.client().rpc("add_numbers", {"a": 1, "b": 2}).eq("x", 1).execute()
    )
    assert error.code == "PGRST100"


# --- procedures -----------------------------------------------------------------------------


def test_procedure_call_answers_its_out_values(rest: Rest) -> None:
    data = rest.client().rpc("order_stats", {"p_status": "new"}).execute().data
    assert data == {"p_count": 2, "p_total": 111.84}
    assert rest.client().rpc("bump", {"p_counter": 4, "p_step": 3}).execute().data == {
        "p_counter": 7
    }


def test_procedure_without_out_values_answers_204(rest: Rest, fixture_db: dict[str, Any]) -> None:
    client = rest.client()
    with answers(client) as seen:
        client.rpc("journal_add", {"p_note": "proc via rpc", "p_amount": 3}).execute()
    assert seen[-1].status_code == 204
    with psycopg.connect(fixture_db["conninfo"], autocommit=True) as conn:
        found = conn.execute("DELETE FROM routine_data.journal WHERE note = 'proc via rpc'")
        assert found.rowcount == 1


def test_procedure_refuses_get(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(
            lambda: client.rpc("order_stats", {"p_status": "new"}, get=True).execute()
        )
    assert error.code == "PGRST101" and seen[-1].status_code == 405
    assert seen[-1].headers["allow"] == "OPTIONS,POST"


# --- errors ---------------------------------------------------------------------------------


def test_unknown_function_is_404_pgrst202(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.rpc("no_such_fn", {"a": 1}).execute())
    assert error.code == "PGRST202" and seen[-1].status_code == 404
    assert "no_such_fn" in (error.message or "")


def test_unknown_argument_is_404_pgrst202(rest: Rest) -> None:
    error = caught_error(lambda: rest.client().rpc("add_numbers", {"a": 1, "nope": 2}).execute())
    assert error.code == "PGRST202"


def test_bad_argument_value_is_400_naming_it(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.rpc("add_numbers", {"a": "abc", "b": 1}).execute())
    assert seen[-1].status_code == 400 and "'a'" in (error.message or "")


def test_raise_exception_keeps_its_message_and_hint(rest: Rest) -> None:
    error = caught_error(lambda: rest.client().rpc("fail_with", {"p_message": "Too big"}).execute())
    assert error.code == "P0001" and error.message == "Too big"
    assert error.hint == "Try a smaller order."


def test_division_by_zero_is_a_database_error_not_500(rest: Rest) -> None:
    client = rest.client()
    with answers(client) as seen:
        error = caught_error(lambda: client.rpc("divide", {"p_a": 1, "p_b": 0}).execute())
    assert error.code == "22012" and seen[-1].status_code == 400


def test_other_methods_are_405_pgrst101(rest: Rest) -> None:
    # the client sends only GET, HEAD and POST to /rpc/: this one request is made by hand
    answer = httpx.put(
        f"{rest.base_url}/rpc/add_numbers",
        json={"a": 1, "b": 2},
        headers={"Authorization": f"Bearer {rest.admin_token}"},
    )
    assert answer.status_code == 405 and answer.json()["code"] == "PGRST101"


# --- the role's grants ----------------------------------------------------------------------


def test_role_grants_apply_as_on_api_v2(caller: SyncPostgrestClient) -> None:
    assert caller.rpc("add_numbers", {"a": 1, "b": 1}, get=True).execute().data == 2
    rows = caller.rpc("orders_by_status", {"p_status": "shipped"}).select("id").execute().data
    assert rows == [{"id": 2}]
    assert caller.rpc("order_stats", {"p_status": "shipped"}).execute().data["p_count"] == 1


def test_role_without_the_grant_is_refused(caller: SyncPostgrestClient, rest: Rest) -> None:
    # as on `/api/v2`: a caller with only an app key, refused, is told to authenticate (401)
    with answers(caller) as seen:
        error = caught_error(lambda: caller.rpc("add_numbers", {"a": 1, "b": 1}).execute())  # POST
    assert seen[-1].status_code == 401 and error.code == "PGRST301"
    for fn, args in (("greet", {"p_name": "x"}), ("journal_clear", {})):  # a function, a proc
        assert (
            caught_error(lambda fn=fn, args=args: caller.rpc(fn, args).execute()).code == "PGRST301"
        )
    reader = rest.app_client()  # the module's other app: tables only
    error = caught_error(lambda: reader.rpc("add_numbers", {"a": 1, "b": 1}).execute())
    assert error.code == "PGRST301"
