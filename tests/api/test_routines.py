"""`_func` and `_proc` (spec §5): listing, describing and calling stored routines.

The routines are in tests/fixtures/schema_routines.sql; those that write use
routine_data.journal, which the `journal` fixture empties.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

pytestmark = pytest.mark.django_db

F = "/api/v2/shop/_func"
P = "/api/v2/shop/_proc"
ALL_VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
FUNC_FAILED = "Failed to call database stored function.\n"
PROC_FAILED = "Failed to call database stored procedure.\n"


def q(text: str) -> str:
    return quote(text, safe="")


def raw_get(api: Any, path: str) -> bytes:
    """The response bytes, for asserting exact digits and `null` bodies."""
    response = api.client.get(path, headers=api.headers)
    assert response.status_code == 200, response.content
    return bytes(response.content)


def error(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "context", "message", "status_code"}
    return dict(body["error"])


@pytest.fixture
def journal(pg: psycopg.Connection[Any]) -> Iterator[psycopg.Connection[Any]]:
    """routine_data.journal emptied (seed.sql does not know it)."""
    pg.execute("TRUNCATE routine_data.journal RESTART IDENTITY")
    yield pg
    pg.execute("TRUNCATE routine_data.journal RESTART IDENTITY")


def journal_rows(pg: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return pg.execute("SELECT id, note, amount FROM routine_data.journal ORDER BY id").fetchall()


# --- lists and descriptions ---------------------------------------------------------------


def test_func_list_is_sorted_and_shows_only_callable_functions(api: Any) -> None:
    status, body = api.get(F)
    assert status == 200
    names = [r["name"] for r in body["resource"]]
    assert names == sorted(names)
    assert {"add_numbers", "area", "countdown", "customer_totals", "Weird Fn"} <= set(names)
    assert names.count("area") == 1  # overloads are one entry
    assert set(body["resource"][0]) == {"name"}
    # trigger functions, aggregates, procedures and other schemas' functions are not listed
    assert not {"touch_row", "glue", "journal_add", "hidden_fn", "other.hidden_fn"} & set(names)


def test_func_list_hides_extension_functions(api: Any, pg: psycopg.Connection[Any]) -> None:
    installed = pg.execute("SELECT 1 FROM pg_extension WHERE extname = 'fuzzystrmatch'")
    if installed.fetchone() is None:
        pytest.skip("fuzzystrmatch is not available on this server")
    status, body = api.get(F)
    assert status == 200
    assert "levenshtein" not in [r["name"] for r in body["resource"]]


def test_proc_list_holds_the_procedures(api: Any) -> None:
    status, body = api.get(P)
    assert status == 200
    assert body == {
        "resource": [
            {"name": n}
            for n in [
                "Weird Proc",
                "bump",
                "journal_add",
                "journal_batch",
                "journal_clear",
                "journal_echo",
                "order_stats",
            ]
        ]
    }


def test_list_as_list_and_fields_star(api: Any) -> None:
    status, body = api.get(P, as_list="true")
    assert status == 200 and body["resource"][:2] == ["Weird Proc", "bump"]
    status, body = api.get(F, fields="*")
    assert status == 200
    entry = next(r for r in body["resource"] if r["name"] == "add_numbers")
    assert entry == {
        "name": "add_numbers",
        "label": "Add Numbers",
        "description": "Adds two integers.",
        "native": [],
        "access": ALL_VERBS,
    }


def test_ids_give_full_descriptions(api: Any) -> None:
    status, body = api.get(F, ids="greet,customer_totals")
    assert status == 200
    greet, totals = body["resource"]
    assert greet["name"] == "greet" and greet["access"] == 31
    assert greet["return_type"] == "text" and greet["return_schema"] == []
    assert greet["params"][1] == {
        "name": "p_greeting",
        "position": 2,
        "param_type": "IN",
        "type": "text",
        "db_type": "text",
        "length": None,
        "precision": None,
        "scale": None,
        "default": "'Hello'::text",
    }
    assert greet["params"][0]["default"] is None
    assert totals["return_type"] == "resultset"
    assert totals["return_schema"] == [
        {"name": "customer", "type": "string", "db_type": "character varying"},
        {"name": "order_count", "type": "bigint", "db_type": "bigint"},
        {"name": "spent", "type": "decimal", "db_type": "numeric"},
    ]
    assert [(p["name"], p["param_type"]) for p in totals["params"]] == [
        ("p_min", "IN"),
        ("customer", "OUT"),
        ("order_count", "OUT"),
        ("spent", "OUT"),
    ]


def test_ids_describe_overloads_and_procedure_modes(api: Any) -> None:
    status, body = api.get(F, ids="area")
    assert status == 200
    assert sorted(len(r["params"]) for r in body["resource"]) == [1, 2]
    status, body = api.get(P, ids="journal_echo,order_stats")
    assert status == 200
    echo, stats = body["resource"]
    assert [(p["name"], p["param_type"]) for p in echo["params"]] == [
        ("p_note", "INOUT"),
        ("p_id", "OUT"),
    ]
    assert stats["return_schema"] == [
        {"name": "p_count", "type": "bigint", "db_type": "bigint"},
        {"name": "p_total", "type": "decimal", "db_type": "numeric"},
    ]


def test_ids_from_a_body_list_through_a_tunnelled_get(api: Any) -> None:
    status, body = api.post(
        F, ["countdown", {"name": "Weird Fn"}], headers={"X-HTTP-Method": "GET"}
    )
    assert status == 200
    assert [r["name"] for r in body["resource"]] == ["countdown", "Weird Fn"]
    assert body["resource"][1]["params"][0]["name"] == "Odd Arg"


def test_unknown_id_is_404(api: Any) -> None:
    status, body = api.get(P, ids="bump,nope")
    assert status == 404
    assert error(body)["message"] == "Procedure 'nope' does not exist in the database."


def test_lists_answer_get_only(api: Any) -> None:
    status, body = api.post(F, {"params": {}})
    assert status == 400 and "POST is not supported on /_func" in error(body)["message"]
    status, body = api.delete(P)
    assert status == 400


def test_refresh_picks_up_a_new_function(api: Any, pg: psycopg.Connection[Any]) -> None:
    api.get(F)  # cache the catalog
    pg.execute("CREATE FUNCTION late_fn() RETURNS integer LANGUAGE sql AS 'SELECT 7'")
    try:
        # a routine the cached catalog does not know makes it look again (issue #10)
        assert api.get(f"{F}/late_fn") == (200, 7)
        status, body = api.get(F, refresh="true")
        assert "late_fn" in [r["name"] for r in body["resource"]]
        assert api.get(f"{F}/late_fn") == (200, 7)
    finally:
        pg.execute("DROP FUNCTION late_fn()")


# --- calling functions: parameter forms -----------------------------------------------------


def test_scalar_function_with_query_parameters(api: Any) -> None:
    assert api.get(f"{F}/add_numbers", a=2, b=3) == (200, 5)
    assert api.get(f"{F}/greet", P_NAME="Bob") == (200, "Hello, Bob!")  # names ignore case


def test_params_as_an_object(api: Any) -> None:
    status, body = api.post(f"{F}/add_numbers", {"params": {"a": 2, "b": {"value": 40}}})
    assert (status, body) == (200, 42)


def test_params_as_name_value_list_and_defaults_fill_the_rest(api: Any) -> None:
    params = [{"name": "p_name", "value": "Ada"}, {"name": "p_punct", "value": "?"}]
    assert api.post(f"{F}/greet", {"params": params}) == (200, "Hello, Ada?")


def test_params_positional_list(api: Any) -> None:
    assert api.post(f"{F}/greet", {"params": ["Ada", "Hi"]}) == (200, "Hi, Ada!")


def test_params_inline_in_the_path_are_literal(api: Any) -> None:
    assert api.get(f"{F}/greet(Ada,Hey)") == (200, "Hey, Ada!")
    assert api.get(f"{F}/greet('Ada')") == (200, "Hello, 'Ada'!")  # quotes are kept
    assert api.get(f"{F}/add_numbers(20,22)") == (200, 42)


def test_body_params_win_over_query_and_path(api: Any) -> None:
    status, body = api.post(f"{F}/greet(Path)", {"params": {"p_name": "Body"}}, p_name="Query")
    assert (status, body) == (200, "Hello, Body!")
    assert api.get(f"{F}/greet(Path)", p_name="Query") == (200, "Hello, Path!")


def test_missing_parameter_without_default_is_null(api: Any) -> None:
    assert api.get(f"{F}/echo_text") == (200, "<null>")
    assert api.post(f"{F}/echo_text", {"params": {"p_value": None}}) == (200, "<null>")


def test_typed_values_numbers_booleans_json_arrays(api: Any) -> None:
    assert raw_get(api, f"{F}/order_total?p_id=1") == b"99.50"  # exact digits
    assert api.get(f"{F}/is_even", p_n=4) == (200, True)
    doc = {"a": [1, 2], "b": {"c": None}}
    assert api.post(f"{F}/echo_json", {"params": {"p_doc": doc}}) == (200, doc)
    assert api.post(f"{F}/sum_all", {"params": {"p_values": [1, 2, 3]}}) == (200, 6)
    assert api.get(f"{F}/days_between", p_from="2026-01-01", p_to="2026-01-31") == (200, 30)


def test_variadic_parameter_takes_a_list_or_the_remaining_values(api: Any) -> None:
    assert api.post(f"{F}/total_of", {"params": {"p_nums": [1, 2, 3]}}) == (200, 6)
    assert api.get(f"{F}/total_of(1,2,3,4)") == (200, 10)
    assert api.get(f"{F}/total_of", p_nums=5) == (200, 5)


def test_hostile_function_name_and_parameter_name(api: Any) -> None:
    status, body = api.get(f"{F}/{q('Weird Fn')}", **{q("Odd Arg"): 5})
    assert (status, body) == (200, "weird:5")
    assert api.post(f"{F}/{q('Weird Fn')}", {"params": {"Odd Arg": 6}}) == (200, "weird:6")


def test_unnamed_parameter_takes_positional_values(api: Any) -> None:
    assert api.get(f"{F}/double_it(21)") == (200, 42)
    assert api.post(f"{F}/double_it", {"params": [4]}) == (200, 8)


# --- calling functions: result shapes and options ------------------------------------------


def test_void_function_answers_null_and_does_its_work(api: Any, journal: Any) -> None:
    response = api.client.post(
        f"{F}/journal_note",
        data={"params": {"p_note": "hello"}},
        content_type="application/json",
        headers=api.headers,
    )
    assert response.status_code == 200 and response.content == b"null"
    assert journal_rows(journal) == [(1, "hello", None)]


def test_composite_function_answers_an_object(api: Any) -> None:
    status, body = api.get(f"{F}/order_summary", p_id=3)
    assert (status, body) == (200, {"id": 3, "total": 12.34, "status": "new"})
    assert api.get(f"{F}/order_summary", p_id=99) == (200, None)
    assert api.get(f"{F}/square_and_double", p_n=3) == (200, {"p_square": 9, "p_double": 6})


def test_setof_table_rows(api: Any) -> None:
    status, body = api.get(f"{F}/orders_by_status", p_status="new")
    assert status == 200
    assert body == [
        {"id": 1, "customer_id": 1, "total": 99.5, "status": "new", "note": "first"},
        {"id": 3, "customer_id": 2, "total": 12.34, "status": "new", "note": "it's quoted"},
    ]
    assert api.get(f"{F}/orders_by_status", p_status="none") == (200, [])


def test_returns_table_with_default_and_given_parameter(api: Any) -> None:
    status, body = api.get(f"{F}/customer_totals")
    assert status == 200
    assert body == [
        {"customer": "Acme", "order_count": 2, "spent": 349.5},
        {"customer": "Globex", "order_count": 1, "spent": 12.34},
        {"customer": "Initech", "order_count": 0, "spent": 0},
    ]
    status, body = api.get(f"{F}/customer_totals", p_min=100)
    assert [r["customer"] for r in body] == ["Acme"]


def test_setof_scalar_rows_are_keyed_by_the_function_name(api: Any) -> None:
    status, body = api.get(f"{F}/countdown(3)")
    assert (status, body) == (200, [{"countdown": 3}, {"countdown": 2}, {"countdown": 1}])


def test_wrapper_wraps_rows_not_scalars(api: Any) -> None:
    status, body = api.get(f"{F}/countdown(2)", wrapper="data")
    assert (status, body) == (200, {"data": [{"countdown": 2}, {"countdown": 1}]})
    status, body = api.post(f"{F}/orders_by_status", {"params": ["none"], "wrapper": "rows"})
    assert (status, body) == (200, {"rows": []})
    assert api.get(f"{F}/add_numbers(1,1)", wrapper="data") == (200, 2)


def test_returns_takes_the_first_value_as_a_scalar(api: Any) -> None:
    assert api.get(f"{F}/customer_totals", returns="string") == (200, "Acme")
    assert api.get(f"{F}/countdown(5)", returns="integer") == (200, 5)
    assert api.get(f"{F}/order_total(2)", returns="integer") == (200, 250)
    assert raw_get(api, f"{F}/order_total(1)?returns=number") == b"99.50"
    assert api.get(f"{F}/add_numbers(1,2)", returns="string") == (200, "3")
    assert api.get(f"{F}/is_even(3)", returns="string") == (200, "false")
    assert api.get(f"{F}/order_summary(1)", returns="integer") == (200, 1)
    assert api.get(f"{F}/orders_by_status(none)", returns="integer") == (200, None)
    status, body = api.get(f"{F}/greet(Ada)", returns="integer")
    assert status == 400 and "can not be returned as integer" in error(body)["message"]
    status, body = api.get(f"{F}/countdown(1)", returns="blob")
    assert status == 400 and "Invalid returns type 'blob'" in error(body)["message"]


def test_schema_option_casts_result_columns(api: Any) -> None:
    status, body = api.post(
        f"{F}/customer_totals", {"schema": {"spent": "string", "order_count": "boolean"}}
    )
    assert status == 200
    assert body[0] == {"customer": "Acme", "order_count": True, "spent": "349.50"}


# --- overloads ----------------------------------------------------------------------------


def test_overload_is_chosen_by_argument_names(api: Any) -> None:
    assert api.get(f"{F}/area", p_radius=1) == (200, 3.14)
    assert api.get(f"{F}/area", p_width=2, p_height="3.5") == (200, 7.0)
    assert api.post(f"{F}/area", {"params": [2, 5]}) == (200, 10)
    assert api.get(f"{F}/area(2)") == (200, 12.57)


def test_ambiguous_overload_is_400_listing_signatures(api: Any) -> None:
    status, body = api.get(f"{F}/area")
    err = error(body)
    assert status == 400 and "overloaded" in err["message"]
    assert sorted(err["context"]["signatures"]) == [
        "area(p_radius numeric)",
        "area(p_width numeric, p_height numeric)",
    ]
    status, body = api.post(f"{F}/area", {"params": {"p_radius": 1, "p_width": 2}})
    assert status == 400 and "area(p_radius numeric)" in error(body)["message"]


# --- errors -------------------------------------------------------------------------------


def test_unknown_routine_messages(api: Any) -> None:
    status, body = api.get(f"{F}/nope")
    assert status == 404
    assert error(body)["message"] == "Function 'nope' does not exist in the database."
    status, body = api.post(f"{P}/nope(1,2)")
    assert status == 404
    assert error(body)["message"] == "Procedure 'nope' does not exist in the database."
    status, body = api.get(f"{P}/add_numbers")  # a function is not a procedure
    assert status == 404
    assert error(body)["message"] == "Procedure 'add_numbers' does not exist in the database."


def test_raised_exception_answers_its_message(api: Any) -> None:
    status, body = api.get(f"{F}/fail_with", p_message=q("Out of stock"))
    err = error(body)
    assert status == 400
    assert err["message"] == FUNC_FAILED + "Out of stock"
    assert err["code"] == "P0001" and err["context"] == {"hint": "Try a smaller order."}


def test_database_error_inside_the_function_is_classified(api: Any) -> None:
    status, body = api.get(f"{F}/divide(1,0)")
    err = error(body)
    assert status == 400
    assert err["message"] == FUNC_FAILED + "Division by zero."
    assert err["code"] == "22012"


def test_bad_parameter_value_is_400_naming_it(api: Any) -> None:
    status, body = api.get(f"{F}/add_numbers", a="abc", b=1)
    err = error(body)
    assert status == 400
    assert err["message"] == FUNC_FAILED + "Parameter 'a' must be a valid integer."
    status, body = api.get(f"{F}/days_between", p_from="not-a-date", p_to="2026-01-01")
    err = error(body)
    assert status == 400
    assert err["message"].startswith(FUNC_FAILED + "Invalid value for parameter 'p_from': ")
    assert "not-a-date" in err["message"] and "SELECT" not in err["message"]
    assert err["context"] == {"param": "p_from"}
    status, body = api.post(f"{P}/bump", {"params": {"p_counter": "many"}})
    assert status == 400
    assert error(body)["message"] == PROC_FAILED + "Parameter 'p_counter' must be a valid integer."


def test_domain_check_names_the_parameter(api: Any) -> None:
    assert api.get(f"{F}/half_of", p_even=8) == (200, 4)
    status, body = api.get(f"{F}/half_of", p_even=-2)
    err = error(body)
    assert status == 400 and err["context"] == {"param": "p_even"}
    assert err["message"].startswith(FUNC_FAILED + "Invalid value for parameter 'p_even': ")
    assert "positive_int_check" in err["message"]


def test_statement_timeout_is_504(api: Any, seeded: dict[str, Any]) -> None:
    from services.models import Service
    from tests.conftest import service_kwargs

    Service.objects.create(**service_kwargs(seeded, name="hasty", statement_timeout=100))
    status, body = api.get("/api/v2/hasty/_func/nap(2)")
    err = error(body)
    assert status == 504 and err["message"].startswith(FUNC_FAILED + "The statement was cancelled")


def test_unknown_parameter_name_is_400(api: Any) -> None:
    status, body = api.post(f"{F}/add_numbers", {"params": {"a": 1, "zz": 2}})
    err = error(body)
    assert status == 400
    assert err["message"] == "Parameter 'zz' is not a parameter of function 'add_numbers'."
    status, body = api.post(f"{F}/add_numbers", {"params": [1, 2, 3]})
    assert status == 400
    assert error(body)["message"] == "Function 'add_numbers' takes 2 parameter(s); 3 given."


def test_unknown_query_keys_are_not_parameters(api: Any) -> None:
    assert api.get(f"{F}/add_numbers(1,2)", something="else") == (200, 3)


def test_only_get_and_post_call_routines(api: Any) -> None:
    status, body = api.delete(f"{F}/add_numbers")
    assert status == 400 and "DELETE is not supported" in error(body)["message"]
    status, _ = api.put(f"{P}/bump", {"params": {"p_counter": 1}})
    assert status == 400


def test_no_credentials_is_401(anon: Any, service: Any) -> None:
    for path in (F, f"{F}/add_numbers(1,2)", P, f"{P}/journal_clear"):
        status, body = anon.get(path)
        assert status == 401 and error(body)["status_code"] == 401


# --- procedures ---------------------------------------------------------------------------


def test_procedure_with_in_parameters_answers_an_empty_array(api: Any, journal: Any) -> None:
    assert api.post(f"{P}/journal_add", {"params": {"p_note": "first"}}) == (200, [])
    assert api.get(f"{P}/journal_add", p_note="second", p_amount=5, wrapper="resource") == (
        200,
        {"resource": []},
    )
    assert journal_rows(journal) == [(1, "first", 1), (2, "second", 5)]  # default applied


def test_procedure_out_parameters_are_top_level_keys(api: Any) -> None:
    status, body = api.get(f"{P}/order_stats", p_status="new")
    assert (status, body) == (200, {"p_count": 2, "p_total": 111.84})
    params = [{"name": "p_status", "value": "shipped"}, {"name": "p_count"}, {"name": "p_total"}]
    assert api.post(f"{P}/order_stats", {"params": params}) == (
        200,
        {"p_count": 1, "p_total": 250},
    )
    # positional values may hold placeholders for the OUT parameters, as DF clients send them
    status, body = api.post(f"{P}/order_stats", {"params": ["cancelled", None, None]})
    assert (status, body) == (200, {"p_count": 1, "p_total": 5})
    assert api.get(f"{P}/order_stats", p_status="new", returns="integer") == (200, 2)


def test_procedure_out_numeric_keeps_exact_digits(api: Any) -> None:
    assert raw_get(api, f"{P}/order_stats?p_status=new") == b'{"p_count":2,"p_total":111.84}'
    assert raw_get(api, f"{P}/order_stats?p_status=shipped") == b'{"p_count":1,"p_total":250.00}'


def test_procedure_inout_parameters(api: Any) -> None:
    assert api.get(f"{P}/bump", p_counter=41) == (200, {"p_counter": 42})
    assert api.get(f"{P}/bump(1,10)") == (200, {"p_counter": 11})
    status, body = api.post(f"{P}/{q('Weird Proc')}", {"params": {"Odd Arg": "abc"}})
    assert (status, body) == (200, {"Odd Arg": "ABC"})


def test_inout_value_is_data_not_sql(api: Any, journal: Any) -> None:
    hostile = "1; DROP TABLE routine_data.journal; --"
    status, body = api.post(f"{P}/journal_echo", {"params": [{"name": "p_note", "value": hostile}]})
    assert (status, body) == (200, {"p_note": hostile, "p_id": 1})
    status, body = api.get(f"{P}/journal_echo", p_note=q("'); DELETE FROM orders; --"))
    assert (status, body) == (200, {"p_note": "'); DELETE FROM orders; --", "p_id": 2})
    assert [r[1] for r in journal_rows(journal)] == [hostile, "'); DELETE FROM orders; --"]
    assert journal.execute("SELECT count(*) FROM orders").fetchone() == (4,)


def test_procedure_without_parameters(api: Any, journal: Any) -> None:
    journal.execute("INSERT INTO routine_data.journal (note) VALUES ('old')")
    assert api.post(f"{P}/journal_clear") == (200, [])
    assert journal_rows(journal) == []
    assert api.get(f"{P}/journal_clear", returns="integer") == (200, None)


def test_procedure_may_commit_inside(api: Any, journal: Any) -> None:
    assert api.post(f"{P}/journal_batch", {"params": {"p_count": 3}}) == (200, [])
    assert journal_rows(journal) == [(1, "batch", 1), (2, "batch", 2), (3, "batch", 3)]


def test_service_over_every_schema_names_other_schemas_routines(
    api: Any, seeded: dict[str, Any]
) -> None:
    from services.models import Service
    from tests.conftest import service_kwargs

    Service.objects.create(**service_kwargs(seeded, name="everything", schema=""))
    status, body = api.get("/api/v2/everything/_func")
    names = [r["name"] for r in body["resource"]]
    assert status == 200 and "other.hidden_fn" in names and "add_numbers" in names
    assert api.get("/api/v2/everything/_func/other.hidden_fn") == (200, 1)
