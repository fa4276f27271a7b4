"""POST/PUT/PATCH/DELETE on /_table: every addressing form, batch modes, upsert, keys."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"


def todo_rows(pg: Any) -> list[tuple[Any, ...]]:
    return pg.execute("SELECT id, name, complete FROM todo ORDER BY id").fetchall()


# --- create ---------------------------------------------------------------------------------


def test_post_batch_returns_keys_with_status_200(api: Any, pg: Any) -> None:
    status, body = api.post(
        f"{T}/todo", {"resource": [{"name": "a"}, {"name": "b", "complete": True}]}
    )
    assert (status, body) == (200, {"resource": [{"id": 6}, {"id": 7}]})
    assert todo_rows(pg)[-2:] == [(6, "a", None), (7, "b", True)]


def test_post_bare_array_and_fields(api: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"name": "a", "complete": False}], fields="name,complete")
    assert (status, body) == (200, {"resource": [{"name": "a", "complete": False}]})
    status, body = api.post(f"{T}/todo", [{"name": "b"}], fields="*")
    assert body == {"resource": [{"id": 7, "name": "b", "complete": None}]}


def test_post_bare_object_is_rejected(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo", {"name": "x"})
    assert status == 400
    assert body["error"]["message"].startswith("No record(s) detected in request.")
    assert len(todo_rows(pg)) == 5


def test_post_unknown_keys_are_dropped_and_explicit_key_used(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"id": 50, "name": "x", "nope": 1}])
    assert body == {"resource": [{"id": 50}]}
    assert pg.execute("SELECT name FROM todo WHERE id = 50").fetchone() == ("x",)


def test_post_validation_messages(api: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"complete": True}])
    assert status == 400 and body["error"]["code"] == 1000
    assert body["error"]["message"] == "Batch Error: Not all requested records could be created."
    assert (
        body["error"]["context"]["resource"][0]["message"]
        == "Required field 'name' can not be NULL."
    )
    status, body = api.post(f"{T}/todo", [{"name": None}])
    assert body["error"]["context"]["resource"][0]["message"] == "Field 'name' can not be NULL."
    status, body = api.post(f"{T}/todo", [{"nope": 1}])
    assert body["error"]["context"]["resource"][0]["message"] == (
        "Required field 'name' can not be NULL."
    )
    status, body = api.post(f"{T}/customers", [{"nope": 1, "name": None}])
    assert body["error"]["context"]["resource"][0]["message"] == "Field 'name' can not be NULL."


def test_batch_default_stops_at_first_failure_and_keeps_earlier(api: Any, pg: Any) -> None:
    records = [{"name": "a"}, {"name": "test1"}, {"name": "c"}]
    status, body = api.post(f"{T}/todo", {"resource": records})
    assert status == 400
    ctx = body["error"]["context"]
    assert ctx["error"] == [1]
    assert ctx["resource"][0] == {"id": 6}
    assert ctx["resource"][1]["code"] == "23505"
    assert "todo_name_key" in ctx["resource"][1]["message"]
    assert len(ctx["resource"]) == 2
    assert ctx["written"] == [0]
    assert [r[1] for r in todo_rows(pg)][5:] == ["a"]


def test_batch_continue_tries_every_record(api: Any, pg: Any) -> None:
    records = [{"name": "test1"}, {"name": "b"}, {"name": "test2"}, {"name": "d"}]
    status, body = api.post(f"{T}/todo", {"resource": records}, **{"continue": "true"})
    assert status == 400
    ctx = body["error"]["context"]
    assert ctx["error"] == [0, 2]
    assert ctx["written"] == [1, 3]
    assert [r[1] for r in todo_rows(pg)][5:] == ["b", "d"]


def test_batch_rollback_is_all_or_nothing(api: Any, pg: Any) -> None:
    records = [{"name": "a"}, {"name": "b"}, {"name": "test3"}]
    status, body = api.post(f"{T}/todo", {"resource": records}, rollback="true")
    assert status == 400
    assert body["error"]["message"] == (
        "Batch Error: Not all requested records could be created. All changes rolled back."
    )
    assert body["error"]["context"]["written"] == []
    assert len(todo_rows(pg)) == 5


def test_batch_rollback_validation_failure_changes_nothing(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo", [{"name": "a"}, {"complete": True}], rollback=1)
    assert status == 400 and body["error"]["context"]["error"] == [1]
    assert len(todo_rows(pg)) == 5


def test_post_by_id_is_refused(api: Any) -> None:
    status, body = api.post(f"{T}/todo/1", [{"name": "x"}])
    assert status == 400
    assert body["error"]["message"] == "Create record by identifier not currently supported."


def test_post_into_table_without_pk_and_composite_key(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/no_pk", [{"a": 3, "b": "three"}], fields="*")
    assert body == {"resource": [{"a": 3, "b": "three"}]}
    status, body = api.post(f"{T}/line_keys", [{"order_no": 3, "line_no": 1, "item": "fig"}])
    assert body == {"resource": [{"order_no": 3, "line_no": 1}]}


# --- update -------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["patch", "put"])
def test_update_by_url_id_is_partial_and_unwrapped(api: Any, pg: Any, verb: str) -> None:
    status, body = getattr(api, verb)(f"{T}/todo/1", {"complete": True})
    assert (status, body) == (200, {"id": 1})
    assert todo_rows(pg)[0] == (1, "test1", True)  # name untouched: PUT is partial too


def test_update_by_id_missing_and_empty_body(api: Any) -> None:
    status, body = api.patch(f"{T}/todo/99", {"complete": True})
    assert status == 404
    assert body["error"]["message"] == "Record with identifier '99' not found."
    status, body = api.patch(f"{T}/todo/1", {})
    assert status == 400
    assert body["error"]["message"] == "The request contains no valid record fields."


def test_update_by_ids_applies_first_record(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{T}/todo", [{"complete": True}], ids="1,3")
    assert (status, body) == (200, {"resource": [{"id": 1}, {"id": 3}]})
    assert [r[2] for r in todo_rows(pg)] == [True, True, True, False, True]
    status, body = api.patch(f"{T}/todo", {"complete": True}, ids="1")
    assert status == 400 and body["error"]["message"].startswith("No record(s) detected")


def test_update_by_filter_returns_matching_rows_after_update(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{T}/todo", [{"complete": True}], filter="complete=false")
    assert status == 200
    assert sorted(r["id"] for r in body["resource"]) == [1, 4]
    assert [r[2] for r in todo_rows(pg)] == [True, True, None, True, True]


def test_update_by_records_each_with_its_key(api: Any, pg: Any) -> None:
    status, body = api.patch(
        f"{T}/todo", {"resource": [{"id": 1, "name": "one"}, {"id": 2, "complete": False}]}
    )
    assert (status, body) == (200, {"resource": [{"id": 1}, {"id": 2}]})
    assert todo_rows(pg)[:2] == [(1, "one", False), (2, "test2", False)]


def test_update_records_missing_key_and_missing_row(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{T}/todo", [{"id": 1, "name": "one"}, {"name": "nokey"}])
    assert status == 400
    assert body["error"]["message"] == "Batch Error: Not all requested records could be updated."
    inner = body["error"]["context"]["resource"][1]["message"]
    assert inner.startswith("Required id field(s) not found in record 1")
    status, body = api.patch(f"{T}/todo", [{"id": 98, "name": "x"}], rollback="true")
    assert body["error"]["context"]["resource"][0]["message"] == (
        "Record with identifier '98' not found."
    )


def test_update_composite_key_by_records(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{T}/line_keys", [{"order_no": 1, "line_no": 2, "item": "quince"}])
    assert body == {"resource": [{"order_no": 1, "line_no": 2}]}
    assert pg.execute("SELECT item FROM line_keys WHERE order_no=1 AND line_no=2").fetchone() == (
        "quince",
    )


def test_keyed_update_on_table_without_pk_is_a_clear_400(api: Any) -> None:
    status, body = api.patch(f"{T}/no_pk/1", {"b": "x"})
    assert status == 400
    assert body["error"]["message"] == "Identifying field(s) could not be determined."


def test_upsert_when_service_allows_it(api: Any, pg: Any, service: Any) -> None:
    status, body = api.patch(f"{T}/todo/77", {"name": "new"})
    assert status == 404
    service.allow_upsert = True
    service.save()
    status, body = api.put(f"{T}/todo/77", {"name": "new"})
    assert (status, body) == (200, {"id": 77})
    assert pg.execute("SELECT name FROM todo WHERE id = 77").fetchone() == ("new",)
    status, body = api.patch(f"{T}/todo", [{"complete": True}], filter="id=78")
    assert body == {"resource": []}  # filter updates never upsert


# --- delete -------------------------------------------------------------------------------


def test_delete_by_id_ids_records_filter(api: Any, pg: Any) -> None:
    assert api.delete(f"{T}/todo/1") == (200, {"id": 1})
    assert api.delete(f"{T}/todo", ids="2,3") == (200, {"resource": [{"id": 2}, {"id": 3}]})
    assert api.delete(f"{T}/todo", [{"id": 4}]) == (200, {"resource": [{"id": 4}]})
    status, body = api.delete(f"{T}/todo", filter="complete=true", fields="name")
    assert (status, body) == (200, {"resource": [{"name": "test5"}]})
    assert todo_rows(pg) == []


def test_delete_missing_and_nothing_given_and_force(api: Any, pg: Any) -> None:
    status, body = api.delete(f"{T}/todo/99")
    assert status == 404
    status, body = api.delete(f"{T}/todo")
    assert status == 400
    assert body["error"]["message"] == "No filter or records given for delete request."
    assert len(todo_rows(pg)) == 5
    assert api.delete(f"{T}/todo", force="true") == (200, {"success": True})
    assert todo_rows(pg) == []


def test_delete_batch_with_missing_id_default_mode_keeps_earlier(api: Any, pg: Any) -> None:
    status, body = api.delete(f"{T}/todo", ids="1,99,2")
    assert status == 400
    assert body["error"]["message"] == "Batch Error: Not all requested records could be deleted."
    assert body["error"]["context"]["written"] == [0]
    assert [r[0] for r in todo_rows(pg)] == [2, 3, 4, 5]


def test_verb_tunnelling_through_post(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/todo/1", None, raw=b"", headers={"X-HTTP-Method": "DELETE"})
    assert (status, body) == (200, {"id": 1})
    status, body = api.post(f"{T}/todo/2?method=PATCH", {"name": "two"})
    assert (status, body) == (200, {"id": 2})
    assert todo_rows(pg)[0] == (2, "two", True)
