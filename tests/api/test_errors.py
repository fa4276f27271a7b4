"""Every error the data API answers: exact status and message (spec §3, §6, §7.4-7.5 and the
policy table), database failures (constraints, timeouts, unreachable servers), injection
attempts that must stay harmless, and hostile identifiers that must keep working.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from django.conf import settings
from django.test import override_settings

from tests.conftest import claims_for, service_kwargs

pytestmark = pytest.mark.django_db

T = "/api/v2/shop/_table"
TODO = f"{T}/todo"
SEED_TODO = [
    (1, "test1", False),
    (2, "test2", True),
    (3, "test3", None),
    (4, "test4", False),
    (5, "test5", True),
]
NO_CREDENTIALS = (
    "No session token (JWT) or API Key detected in request. Please send in "
    "X-DreamFactory-Session-Token and/or X-DreamFactory-API-Key request header. You can also "
    "use URL query parameters session_token and/or api_key."
)
EXPIRED = (
    "Token has expired: Session expired. Please refresh your token (if still within refresh "
    "window) or re-login."
)
NO_RECORDS = (
    "No record(s) detected in request. Please make sure record(s) are wrapped in a 'resource' "
    'tag. Example: {"resource":[{"record":1},{"record":2}]}'
)
CREATE_BATCH = "Batch Error: Not all requested records could be created."
ENVELOPE_KEYS = {"code", "context", "message", "status_code"}


def q(text: str) -> str:
    return quote(text, safe="")


def todo_rows(pg: Any) -> list[tuple[Any, ...]]:
    return pg.execute("SELECT id, name, complete FROM todo ORDER BY id").fetchall()


def error_of(status: int, body: Any, expected_status: int) -> dict[str, Any]:
    """The envelope's inner object, after checking the status and the envelope's shape."""
    assert status == expected_status, body
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["status_code"] == expected_status
    return body["error"]  # type: ignore[no-any-return]


def message_of(status: int, body: Any, expected_status: int) -> str:
    return str(error_of(status, body, expected_status)["message"])


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- service and resource resolution ------------------------------------------------------------


def test_unknown_service_is_404(api: Any) -> None:
    status, body = api.get("/api/v2/nope/_table/todo")
    assert message_of(status, body, 404) == "Could not find a service for nope"


def test_unknown_service_without_version_segment_is_404(api: Any) -> None:
    status, body = api.get("/api/nope/_table")
    assert message_of(status, body, 404) == "Could not find a service for nope"


def test_inactive_service_is_403(api: Any, service: Any) -> None:
    assert api.get(TODO)[0] == 200
    service.is_active = False
    service.save()
    status, body = api.get(TODO)
    assert message_of(status, body, 403) == "Service shop is deactivated."
    status, body = api.post(TODO, [{"name": "while-off"}])
    assert message_of(status, body, 403) == "Service shop is deactivated."
    status, body = api.get("/api/v2/shop")
    assert message_of(status, body, 403) == "Service shop is deactivated."


def test_unknown_table_is_404(api: Any) -> None:
    status, body = api.get(f"{T}/nope")
    assert message_of(status, body, 404) == 'Table "nope" does not exist in the database.'
    status, body = api.post(f"{T}/nope", [{"a": 1}])
    assert message_of(status, body, 404) == 'Table "nope" does not exist in the database.'


def test_table_in_another_schema_is_not_served(api: Any) -> None:
    status, body = api.get(f"{T}/secret")
    assert message_of(status, body, 404) == 'Table "secret" does not exist in the database.'


def test_unknown_resource_is_404(api: Any) -> None:
    status, body = api.get("/api/v2/shop/_nope")
    assert message_of(status, body, 404) == "Resource '_nope' not found for service 'shop'."


def test_missing_record_by_id_is_404(api: Any, pg: Any) -> None:
    for method in ("GET", "DELETE"):
        status, body = api.call(method, f"{TODO}/99")
        assert message_of(status, body, 404) == "Record with identifier '99' not found."
    status, body = api.patch(f"{TODO}/99", {"name": "x"})
    assert message_of(status, body, 404) == "Record with identifier '99' not found."
    assert todo_rows(pg) == SEED_TODO


def test_missing_id_in_ids_is_a_retrieve_batch_error(api: Any) -> None:
    status, body = api.get(TODO, ids="1,99")
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert error["message"] == "Batch Error: Not all requested records could be retrieved."
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][1]["message"] == "Record with identifier '99' not found."


# --- request options ----------------------------------------------------------------------------


@pytest.mark.parametrize("fields", ["nope", "id,nope", "id,name,nope"])
def test_unknown_field_is_400(api: Any, fields: str) -> None:
    status, body = api.get(TODO, fields=fields)
    assert message_of(status, body, 400) == "Invalid field requested: nope"


def test_unknown_field_on_write_is_400_and_nothing_written(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": "new"}], fields="nope")
    assert message_of(status, body, 400) == "Invalid field requested: nope"
    assert todo_rows(pg) == SEED_TODO


def test_unknown_order_field_is_400(api: Any) -> None:
    status, body = api.get(TODO, order="nope")
    assert message_of(status, body, 400) == "Invalid field 'nope' in order by clause."
    status, body = api.get(TODO, order=q("id desc,nope asc"))
    assert message_of(status, body, 400) == "Invalid field 'nope' in order by clause."


@pytest.mark.parametrize("order", ["id;", "id; DROP TABLE todo", ";", "name desc;id"])
def test_semicolon_in_order_is_400(api: Any, pg: Any, order: str) -> None:
    status, body = api.get(TODO, order=q(order))
    assert message_of(status, body, 400) == "Invalid order by clause in request."
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize(
    "flt", ["name =", "((", "name = 'x", "(name = 'x'", "name ~ 'x'", "id BETWEEN 1", "name"]
)
def test_unparsable_filter_is_400(api: Any, flt: str) -> None:
    status, body = api.get(TODO, filter=q(flt))
    assert message_of(status, body, 400) == "Invalid or unparsable filter request."


def test_unknown_filter_field_is_400(api: Any) -> None:
    status, body = api.get(TODO, filter=q("nope = 1"))
    assert message_of(status, body, 400) == (
        "Invalid or unparsable field in filter request: 'nope'"
    )
    status, body = api.get(TODO, filter=q("(id = 1) AND (nope = 1)"))
    assert message_of(status, body, 400) == (
        "Invalid or unparsable field in filter request: 'nope'"
    )


def test_malformed_json_body_is_400(api: Any, pg: Any) -> None:
    for raw in (b"{bad", b'[{"name": "x"}', b"\xff\xfe", b'[{"name": "x",}]'):
        status, body = api.call("POST", TODO, raw=raw)
        assert message_of(status, body, 400).startswith("Malformed JSON")
    assert todo_rows(pg) == SEED_TODO


def test_bare_object_post_is_400(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, {"name": "x"})
    message = message_of(status, body, 400)
    assert message.startswith("No record(s) detected in request.")
    assert message == NO_RECORDS
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize("raw", [b"[]", b'{"resource": []}', b"null", b"5", b'"x"'])
def test_empty_or_scalar_post_body_has_no_records(api: Any, raw: bytes) -> None:
    status, body = api.call("POST", TODO, raw=raw)
    assert message_of(status, body, 400) == NO_RECORDS


def test_post_without_body_has_no_records(api: Any) -> None:
    status, body = api.post(TODO)
    assert message_of(status, body, 400) == NO_RECORDS


def test_bare_object_patch_by_ids_is_400(api: Any, pg: Any) -> None:
    status, body = api.patch(TODO, {"complete": True}, ids="1,2")
    assert message_of(status, body, 400) == NO_RECORDS
    assert todo_rows(pg) == SEED_TODO


def test_continue_and_rollback_together_is_400(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": "x"}], **{"continue": "true", "rollback": "true"})
    assert message_of(status, body, 400) == (
        "Rollback and continue operations can not be requested at the same time."
    )
    assert todo_rows(pg) == SEED_TODO


def test_delete_with_nothing_is_400(api: Any, pg: Any) -> None:
    status, body = api.delete(TODO)
    assert message_of(status, body, 400) == "No filter or records given for delete request."
    assert todo_rows(pg) == SEED_TODO


def test_post_by_id_is_400(api: Any, pg: Any) -> None:
    status, body = api.post(f"{TODO}/1", [{"name": "x"}])
    assert message_of(status, body, 400) == "Create record by identifier not currently supported."
    assert todo_rows(pg) == SEED_TODO


def test_empty_update_by_id_is_400(api: Any) -> None:
    status, body = api.patch(f"{TODO}/1", {})
    assert message_of(status, body, 400) == "The request contains no valid record fields."


def test_update_record_without_key_is_a_batch_error(api: Any) -> None:
    status, body = api.put(TODO, [{"name": "zz"}])
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert error["message"] == "Batch Error: Not all requested records could be updated."
    assert error["context"]["resource"][0]["message"] == (
        "Required id field(s) not found in record 0: id."
    )


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_table_without_primary_key_by_id_is_400(api: Any, pg: Any, method: str) -> None:
    body_in = {"b": "changed"} if method == "PATCH" else None
    status, body = api.call(method, f"{T}/no_pk/1", body_in)
    assert message_of(status, body, 400) == "Identifying field(s) could not be determined."
    assert pg.execute("SELECT a, b FROM no_pk ORDER BY a").fetchall() == [(1, "one"), (2, "two")]


def test_table_without_primary_key_works_with_id_field(api: Any) -> None:
    assert api.get(f"{T}/no_pk/2", id_field="a") == (200, {"a": 2, "b": "two"})


def test_unsupported_method_override_is_400(api: Any) -> None:
    status, body = api.post(f"{TODO}?method=FOO")
    assert message_of(status, body, 400) == "Unsupported method override 'FOO'."


def test_integer_key_that_is_not_an_integer_is_400(api: Any) -> None:
    status, body = api.get(f"{TODO}/abc")
    assert message_of(status, body, 400) == "Field 'id' must be a valid integer."


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", TODO),
        ("GET", f"{TODO}/1"),
        ("POST", TODO),
        ("DELETE", f"{TODO}/1"),
        ("GET", "/api/v2/shop/_table"),
        ("GET", "/api/v2/shop"),
    ],
)
def test_missing_credentials_is_401(
    anon: Any, service: Any, pg: Any, method: str, path: str
) -> None:
    body_in = [{"name": "anon"}] if method == "POST" else None
    status, body = anon.call(method, path, body_in)
    assert message_of(status, body, 401) == NO_CREDENTIALS
    assert todo_rows(pg) == SEED_TODO


def test_token_signed_with_another_key_is_401(anon: Any, service: Any, admin_user: Any) -> None:
    forged = jwt.encode(claims_for(admin_user), "not-the-server-secret-" * 3, algorithm="HS256")
    for headers in (
        {"X-DreamFactory-Session-Token": forged},
        {"Authorization": f"Bearer {forged}"},
    ):
        status, body = anon.get(TODO, headers=headers)
        assert message_of(status, body, 401).startswith("Invalid token")
    status, body = anon.get(TODO, session_token=forged)
    assert message_of(status, body, 401).startswith("Invalid token")


def test_unsigned_alg_none_token_is_401(anon: Any, service: Any, admin_user: Any) -> None:
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims_for(admin_user)) + "."
    for headers in (
        {"X-DreamFactory-Session-Token": token},
        {"Authorization": f"Bearer {token}"},
    ):
        status, body = anon.get(TODO, headers=headers)
        assert message_of(status, body, 401).startswith("Invalid token")


def test_token_with_alg_none_header_but_valid_signature_is_401(
    anon: Any, service: Any, admin_user: Any
) -> None:
    """Swapping the header's alg must not make the server skip the signature check."""
    good = jwt.encode(claims_for(admin_user), settings.JWT_SECRET, algorithm="HS256")
    _, payload, signature = good.split(".")
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}"
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    assert message_of(status, body, 401).startswith("Invalid token")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 500])
def test_malformed_token_is_401(anon: Any, service: Any, token: str) -> None:
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    assert message_of(status, body, 401).startswith("Invalid token")


def test_expired_token_is_401(anon: Any, service: Any, admin_user: Any) -> None:
    past = int(time.time()) - 7200
    token = jwt.encode(
        claims_for(admin_user, iat=past, nbf=past, exp=past + 60),
        settings.JWT_SECRET,
        algorithm="HS256",
    )
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    message = message_of(status, body, 401)
    assert message.startswith("Token has expired")
    assert message == EXPIRED
    status, body = anon.get("/api/v2/system/service", headers={"Authorization": f"Bearer {token}"})
    assert message_of(status, body, 401) == EXPIRED


def test_token_for_unknown_user_is_401(anon: Any, service: Any, admin_user: Any) -> None:
    token = jwt.encode(
        claims_for(admin_user, user_id=admin_user.pk + 1000), settings.JWT_SECRET, algorithm="HS256"
    )
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    assert message_of(status, body, 401) == "Invalid token: User verification failed."


def test_token_whose_subject_does_not_match_the_email_is_401(
    anon: Any, service: Any, admin_user: Any
) -> None:
    token = jwt.encode(
        claims_for(admin_user, sub=hashlib.md5(b"someone@else", usedforsecurity=False).hexdigest()),
        settings.JWT_SECRET,
        algorithm="HS256",
    )
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    assert message_of(status, body, 401) == "Invalid token: User verification failed."


def test_token_missing_a_required_claim_is_401(anon: Any, service: Any, admin_user: Any) -> None:
    claims = claims_for(admin_user)
    del claims["forever"]
    token = jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")
    status, body = anon.get(TODO, headers={"X-DreamFactory-Session-Token": token})
    assert message_of(status, body, 401).startswith("Invalid token")


def test_anonymous_request_to_unknown_service_is_refused_not_404(anon: Any, service: Any) -> None:
    """Spec §7.5: an unknown service fails the access check; names cannot be probed."""
    status, body = anon.get("/api/v2/nope/_table/todo")
    assert message_of(status, body, 401) == NO_CREDENTIALS


def test_anonymous_request_to_inactive_service_is_refused(anon: Any, service: Any) -> None:
    service.is_active = False
    service.save()
    status, body = anon.get(TODO)
    assert message_of(status, body, 401) == NO_CREDENTIALS


# --- database constraint errors -----------------------------------------------------------------


def test_unique_violation_is_a_batch_error_naming_the_constraint(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": "test1"}])
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert error["message"] == CREATE_BATCH
    assert error["context"]["error"] == [0]
    inner = error["context"]["resource"][0]
    assert "todo_name_key" in inner["message"]
    assert inner["code"] == "23505"
    assert todo_rows(pg) == SEED_TODO


def test_unique_violation_on_update_by_id_is_an_unwrapped_400(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{TODO}/1", {"name": "test2"})
    assert "todo_name_key" in message_of(status, body, 400)
    assert todo_rows(pg) == SEED_TODO


def test_batch_stops_at_first_failure_and_keeps_earlier_records(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": "new1"}, {"name": "test1"}, {"name": "new3"}])
    error = error_of(status, body, 400)
    assert error["message"] == CREATE_BATCH
    assert error["context"]["error"] == [1]
    assert error["context"]["resource"][0] == {"id": 6}
    assert len(error["context"]["resource"]) == 2
    assert [r[1] for r in todo_rows(pg)][5:] == ["new1"]


def test_batch_with_rollback_keeps_nothing(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": "new1"}, {"name": "test1"}], rollback="true")
    error = error_of(status, body, 400)
    assert error["message"] == CREATE_BATCH + " All changes rolled back."
    assert "todo_name_key" in error["context"]["resource"][1]["message"]
    assert todo_rows(pg) == SEED_TODO


def test_batch_with_continue_writes_every_good_record(api: Any, pg: Any) -> None:
    status, body = api.post(
        TODO, [{"name": "new1"}, {"name": "test1"}, {"name": "new3"}], **{"continue": "true"}
    )
    error = error_of(status, body, 400)
    assert error["context"]["error"] == [1]
    assert [r[1] for r in todo_rows(pg)][5:] == ["new1", "new3"]


def test_foreign_key_violation_names_the_constraint(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/orders", [{"customer_id": 999}])
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert error["message"] == CREATE_BATCH
    assert "orders_customer_id_fkey" in error["context"]["resource"][0]["message"]
    assert pg.execute("SELECT count(*) FROM orders").fetchone()[0] == 4


def test_foreign_key_violation_on_update_names_the_constraint(api: Any, pg: Any) -> None:
    status, body = api.patch(f"{T}/orders/1", {"customer_id": 999})
    assert "orders_customer_id_fkey" in message_of(status, body, 400)
    assert pg.execute("SELECT customer_id FROM orders WHERE id = 1").fetchone() == (1,)


def test_explicit_null_on_not_null_column(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"name": None}])
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert error["context"]["resource"][0]["message"] == "Field 'name' can not be NULL."
    status, body = api.patch(f"{TODO}/1", {"name": None})
    assert message_of(status, body, 400) == "Field 'name' can not be NULL."
    assert todo_rows(pg) == SEED_TODO


def test_missing_required_column(api: Any, pg: Any) -> None:
    status, body = api.post(TODO, [{"complete": True}])
    error = error_of(status, body, 400)
    assert error["context"]["resource"][0]["message"] == "Required field 'name' can not be NULL."
    assert todo_rows(pg) == SEED_TODO


def test_check_constraint_violation_names_the_constraint(api: Any, pg: Any) -> None:
    status, body = api.post(f"{T}/order_items", [{"order_id": 1, "sku": "Z9", "qty": 0}])
    error = error_of(status, body, 400)
    assert error["code"] == 1000
    assert "order_items_qty_check" in error["context"]["resource"][0]["message"]
    status, body = api.patch(f"{T}/order_items/1", {"qty": -1})
    assert "order_items_qty_check" in message_of(status, body, 400)
    assert pg.execute("SELECT qty FROM order_items WHERE id = 1").fetchone() == (2,)


def test_value_too_long_is_400(api: Any) -> None:
    status, body = api.post(f"{T}/customers", [{"name": "x" * 81}])
    error = error_of(status, body, 400)
    assert "character varying(80)" in error["context"]["resource"][0]["message"]


# --- database availability ----------------------------------------------------------------------


@pytest.fixture
def slow_view(pg: Any) -> Iterator[str]:
    pg.execute(
        "CREATE OR REPLACE VIEW slow_view AS SELECT 1 AS id, pg_sleep(5)::text AS x"
        " FROM (VALUES (1)) AS v(n)"
    )
    try:
        yield "slow_view"
    finally:
        pg.execute("DROP VIEW IF EXISTS slow_view")


def test_statement_timeout_is_504(api: Any, service: Any, slow_view: str) -> None:
    service.statement_timeout = 300
    service.save()
    started = time.monotonic()
    status, body = api.get(f"{T}/{slow_view}", refresh="true")
    elapsed = time.monotonic() - started
    message = message_of(status, body, 504)
    assert "statement_timeout" in message
    assert "pg_sleep" not in json.dumps(body) and "SELECT " not in json.dumps(body)
    assert elapsed < 4  # cancelled by the timeout, not run to completion
    assert api.get(f"{TODO}/1")[0] == 200  # the pool is still healthy afterwards


def test_unreachable_database_is_503_without_the_password(api: Any, seeded: Any) -> None:
    from services.models import Service

    secret = "s3cret-Pa55word-do-not-leak"
    Service.objects.create(
        **service_kwargs(seeded, name="dead", host="127.0.0.1", port=1, password=secret)
    )
    with override_settings(GATEWAY_CONNECT_TIMEOUT=1):
        status, body = api.get("/api/v2/dead/_table/todo")
    message = message_of(status, body, 503)
    assert "connection refused" in message.lower()
    text = json.dumps(body)
    assert secret not in text
    assert "password" not in text.lower()


# --- no leaks in error responses ----------------------------------------------------------------

LEAK_CASES = [
    ("GET", f"{T}/nope", None, {}),
    ("GET", TODO, None, {"fields": "nope"}),
    ("GET", TODO, None, {"filter": q("nope = 1")}),
    ("GET", TODO, None, {"filter": q("id = 'abc'")}),
    ("GET", TODO, None, {"order": q("(select 1)")}),
    ("POST", TODO, [{"name": "test1"}], {}),
    ("POST", f"{T}/orders", [{"customer_id": 999}], {}),
    ("POST", f"{T}/order_items", [{"order_id": 1, "sku": "x", "qty": 0}], {}),
    ("POST", f"{T}/customers", [{"name": "x" * 81}], {}),
    ("POST", f"{T}/all_types", [{"d": "not a date"}], {}),
    ("POST", f"{T}/all_types", [{"feeling": "angry"}], {}),
    ("POST", f"{T}/all_types", [{"int_arr": "{1,2"}], {}),
    ("PATCH", f"{TODO}/1", {"name": "test2"}, {}),
    ("PATCH", f"{T}/orders/1", {"customer_id": 999}, {}),
    ("DELETE", f"{TODO}/99", None, {}),
    ("GET", f"{T}/no_pk/1", None, {}),
]


@pytest.mark.parametrize(("method", "path", "body_in", "query"), LEAK_CASES)
def test_error_responses_carry_no_trace_sql_or_secret(
    api: Any, method: str, path: str, body_in: Any, query: dict[str, str]
) -> None:
    status, body = api.call(method, path, body_in, **query)
    assert 400 <= status < 500
    text = json.dumps(body)
    for leak in (
        "Traceback",
        'File "/',
        "SELECT ",
        "INSERT INTO",
        "UPDATE ",
        "DELETE FROM",
        "RETURNING",
        "row_to_json",
        "psycopg",
        "password=",
        "trace",
    ):
        assert leak not in text, leak


# --- injection attempts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flt",
    [
        "name='x' OR 1=1",
        "name='x'; DROP TABLE todo; --'",
        "name='x",
        "name = 'x' OR '1'='1'",
        "(name = 'x') OR (1=1)",
        "1=1",
        "id = 1; DELETE FROM todo",
        "name = 'x')) OR ((1=1",
    ],
)
def test_filter_injection_is_refused_and_harmless(api: Any, pg: Any, flt: str) -> None:
    status, body = api.get(TODO, filter=q(flt))
    assert status == 400, body
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize("flt", ["name='x' OR 1=1", "(name = 'x') OR (1=1)", "1=1"])
def test_filter_injection_on_writes_changes_nothing(api: Any, pg: Any, flt: str) -> None:
    status, _ = api.delete(TODO, filter=q(flt))
    assert status == 400
    status, _ = api.patch(TODO, [{"complete": True}], filter=q(flt))
    assert status == 400
    assert todo_rows(pg) == SEED_TODO


def test_hostile_text_inside_a_quoted_filter_value_is_just_a_value(api: Any, pg: Any) -> None:
    status, body = api.get(TODO, filter=q("name = 'x''; DROP TABLE todo; --'"))
    assert (status, body) == (200, {"resource": []})
    status, body = api.delete(TODO, filter=q("name = 'x'' OR ''1''=''1'"))
    assert (status, body) == (200, {"resource": []})
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("id;DROP TABLE todo", "Invalid field requested: id;DROP TABLE todo"),
        ('"id"', 'Invalid field requested: "id"'),
        ("id, (select 1)", "Invalid field requested: (select 1)"),
    ],
)
def test_fields_injection_is_refused(api: Any, pg: Any, fields: str, message: str) -> None:
    status, body = api.get(TODO, fields=q(fields))
    assert message_of(status, body, 400) == message
    status, body = api.post(TODO, [{"name": "inj"}], fields=q(fields))
    assert message_of(status, body, 400) == message
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("id; DROP TABLE todo", "Invalid order by clause in request."),
        ("(select 1)", "Invalid field '(select 1)' in order by clause."),
        ("id desc, (select 1)", "Invalid field '(select 1)' in order by clause."),
        ("id desc nulls sideways", "Invalid field 'id desc nulls sideways' in order by clause."),
        ("1", "Invalid field '1' in order by clause."),
    ],
)
def test_order_injection_is_refused(api: Any, pg: Any, order: str, message: str) -> None:
    status, body = api.get(TODO, order=q(order))
    assert message_of(status, body, 400) == message
    assert todo_rows(pg) == SEED_TODO


@pytest.mark.parametrize(
    ("table", "shown"),
    [
        ("todo;DROP TABLE todo", "todo;DROP TABLE todo"),
        ('todo"', 'todo"'),
        ('todo" ; DROP TABLE todo; --', 'todo" ; DROP TABLE todo; --'),
        ("public.todo", "public.todo"),
    ],
)
def test_table_name_injection_is_404(api: Any, pg: Any, table: str, shown: str) -> None:
    for method, body_in in (("GET", None), ("POST", [{"name": "x"}]), ("DELETE", None)):
        status, body = api.call(method, f"{T}/{q(table)}", body_in, force="true")
        assert message_of(status, body, 404) == f'Table "{shown}" does not exist in the database.'
    assert todo_rows(pg) == SEED_TODO


def test_percent_encoded_quote_in_table_name_is_404(api: Any) -> None:
    status, body = api.get(f"{T}/todo%22")
    assert message_of(status, body, 404) == 'Table "todo"" does not exist in the database.'


@pytest.mark.parametrize("record_id", ["1 OR 1=1", "1;DROP TABLE todo", "1)", "'1'"])
def test_record_id_injection_is_400(api: Any, pg: Any, record_id: str) -> None:
    for method in ("GET", "DELETE"):
        status, body = api.call(method, f"{TODO}/{q(record_id)}")
        assert message_of(status, body, 400) == "Field 'id' must be a valid integer."
    status, body = api.get(TODO, ids=q(record_id))
    assert message_of(status, body, 400) == "Field 'id' must be a valid integer."
    assert todo_rows(pg) == SEED_TODO


def test_unknown_json_keys_are_dropped_not_executed(api: Any, pg: Any) -> None:
    status, body = api.post(
        TODO, [{"name; DROP TABLE todo": "x", "name": "ok", '"); DELETE FROM todo; --': 1}]
    )
    assert (status, body) == (200, {"resource": [{"id": 6}]})
    assert todo_rows(pg) == [*SEED_TODO, (6, "ok", None)]


def test_hostile_values_are_stored_verbatim(api: Any, pg: Any) -> None:
    values = [
        "Robert'); DROP TABLE todo;--",
        "x' OR '1'='1",
        '"; DELETE FROM todo; --',
        "\\'; SELECT pg_sleep(10); --",
        "$$; DROP TABLE todo; $$",
    ]
    status, body = api.post(TODO, [{"name": v} for v in values], fields="name")
    assert (status, body) == (200, {"resource": [{"name": v} for v in values]})
    assert [r[1] for r in todo_rows(pg)][5:] == values
    escaped = "Robert''); DROP TABLE todo;--"
    status, body = api.get(TODO, filter=q(f"name = '{escaped}'"), fields="id")
    assert (status, body) == (200, {"resource": [{"id": 6}]})
    status, body = api.patch(f"{TODO}/6", {"name": values[1] + values[0]}, fields="name")
    assert (status, body) == (200, {"name": values[1] + values[0]})


# --- hostile identifiers ------------------------------------------------------------------------

# (table as addressed in the URL, db table, key used in writes, db column, filter on the column,
#  value, updated value)
HOSTILE = [
    (
        "Table With Space",
        "Table With Space",
        "Column With Space",
        "Column With Space",
        "\"Column With Space\" = 'v1'",
        "v1",
        "v2",
    ),
    ("Escap3e;", "Escap3e;", "so6em", "so6em", "so6em = 'v1'", "v1", "v2"),
    ("MixedCase", "MixedCase", "MixedCol", "MixedCol", "MixedCol = 41", 41, 42),
    ("mixedcase", "MixedCase", "mixedcol", "MixedCol", "mixedcol = 41", 41, 42),
    ("MIXEDCASE", "MixedCase", "MIXEDCOL", "MixedCol", '"MIXEDCOL" = 41', 41, 42),
    ("select", "select", "from", "from", "from = 'v1'", "v1", "v2"),
    ('quote"d', 'quote"d', 'we"ird', 'we"ird', '"we""ird" = \'v1\'', "v1", "v2"),
]


@pytest.mark.parametrize(
    ("table", "db_table", "key", "db_column", "flt", "value", "updated"),
    HOSTILE,
    ids=[h[0] for h in HOSTILE],
)
def test_hostile_identifiers_support_crud(
    api: Any,
    pg: Any,
    table: str,
    db_table: str,
    key: str,
    db_column: str,
    flt: str,
    value: Any,
    updated: Any,
) -> None:
    from psycopg import sql

    path = f"{T}/{q(table)}"
    stored = sql.SQL("SELECT {c} FROM {t} WHERE id = %s").format(
        c=sql.Identifier(db_column), t=sql.Identifier(db_table)
    )

    status, body = api.get(path)
    assert status == 200 and len(body["resource"]) == 1
    assert db_column in body["resource"][0]

    status, body = api.post(path, [{key: value}], fields="*")
    assert status == 200, body
    created = body["resource"][0]
    new_id = created["id"]
    assert created[db_column] == value
    assert pg.execute(stored, (new_id,)).fetchone() == (value,)

    status, body = api.get(f"{path}/{new_id}", fields=q(key))
    assert (status, body) == (200, {db_column: value})

    status, body = api.get(path, filter=q(flt), fields="id")
    assert (status, body) == (200, {"resource": [{"id": new_id}]})

    status, body = api.patch(f"{path}/{new_id}", {key: updated}, fields=q(key))
    assert (status, body) == (200, {db_column: updated})
    assert pg.execute(stored, (new_id,)).fetchone() == (updated,)

    status, body = api.delete(f"{path}/{new_id}")
    assert (status, body) == (200, {"id": new_id})
    assert pg.execute(stored, (new_id,)).fetchone() is None


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        ("Escap3e;", "so6em", ["escaped", "b"]),
        ("select", "where", [1, 2]),
        ('quote"d', 'we"ird', ["quoted", "r"]),
        ("MixedCase", "mixedcol", [7, 8]),
    ],
)
def test_hostile_identifiers_can_be_ordered(
    api: Any, table: str, column: str, values: list[Any]
) -> None:
    api.post(f"{T}/{q(table)}", [{column: values[1]}])
    status, body = api.get(f"{T}/{q(table)}", order=q(f"{column} desc"), fields=q(column))
    assert status == 200
    assert [next(iter(r.values())) for r in body["resource"]] == sorted(values, reverse=True)


@pytest.mark.parametrize("order", ['"Column With Space" desc', "Column With Space desc"])
def test_column_with_space_can_be_ordered(api: Any, order: str) -> None:
    path = f"{T}/{q('Table With Space')}"
    api.post(path, [{"Column With Space": "zz"}])
    status, body = api.get(path, order=q(order), fields="id")
    assert (status, body) == (200, {"resource": [{"id": 2}, {"id": 1}]})
    status, body = api.get(path, order=q(order.replace("desc", "asc")), fields="id")
    assert (status, body) == (200, {"resource": [{"id": 1}, {"id": 2}]})


# --- body limits ----------------------------------------------------------------------------------


def test_body_over_the_limit_is_413(api: Any, pg: Any) -> None:
    raw = json.dumps([{"name": "x" * 2000}]).encode()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, GATEWAY_MAX_BODY_BYTES=1000):
        status, body = api.call("POST", TODO, raw=raw)
    error = error_of(status, body, 413)
    assert "1000 bytes" in error["message"]
    assert todo_rows(pg) == SEED_TODO


def test_system_api_body_over_the_limit_is_413(anon: Any) -> None:
    raw = json.dumps({"email": "a@example.com", "password": "x" * 2000}).encode()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, GATEWAY_MAX_BODY_BYTES=1000):
        status, body = anon.call("POST", "/api/v2/system/admin/session", raw=raw)
    error_of(status, body, 413)


def test_body_under_the_limit_is_accepted(api: Any, pg: Any) -> None:
    raw = json.dumps([{"name": "y" * 200}]).encode()
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, GATEWAY_MAX_BODY_BYTES=1000):
        status, _ = api.call("POST", TODO, raw=raw)
    assert status == 200
    assert todo_rows(pg)[-1][1] == "y" * 200


def test_deeply_nested_json_body_is_400(api: Any, pg: Any) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    status, body = api.call("POST", TODO, raw=raw)
    assert message_of(status, body, 400).startswith("Malformed JSON")
    assert todo_rows(pg) == SEED_TODO
