"""The audit trail (issue #6 item 3, issue #12): one record per /api/ call, successes and
failures, data and system API, logins; never a password, key or token; "db", "log" and "off"
modes; the audit store of its own (never the metadata database), the flusher thread, retention
by age and by count, JSON-lines export, the read-only admin, moving events left in the metadata
database. A real server's clean stop is in tests/faults/test_audit_store.py."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connections, models
from django.http import HttpResponse
from django.test import Client

from audit.checks import check_audit_settings, store_problems
from audit.models import AuditEvent
from audit.record import FIELDS
from audit.recorder import recorder
from audit.retention import purge_some, trim
from audit.router import ALIAS
from audit.store import legacy_table
from core.context import RequestContext
from core.verbs import GET
from tests.conftest import assign_role, login, make_app, make_role, make_user

DATABASES = ["default", "audit"]  # the metadata database and the audit store
pytestmark = pytest.mark.django_db(databases=DATABASES)

T = "/api/v2/shop/_table"
ADMIN_SESSION = "/api/v2/system/admin/session"
USER_SESSION = "/api/v2/user/session"
# Distinctive secrets: none of them may ever show up in an audit record or line.
PASSWORD = "Zebra-Quartz-9931-audit-secret"
WRONG_PASSWORD = "Ocelot-Marble-5512-not-it"


@pytest.fixture(autouse=True)
def audit_db(settings: Any) -> Iterator[None]:
    """Audit in "db" mode, no flusher thread unless a test starts one, empty buffer and table."""
    settings.GATEWAY_AUDIT = "db"
    settings.GATEWAY_AUDIT_FLUSH_SECONDS = 3600.0
    settings.GATEWAY_AUDIT_BATCH = 10_000
    settings.GATEWAY_AUDIT_BUFFER = 10_000
    settings.GATEWAY_AUDIT_RETENTION_DAYS = 0
    settings.GATEWAY_AUDIT_MAX_EVENTS = 0
    recorder.stop()
    recorder.discard()
    # start from an empty table (undone with the test's transaction)
    AuditEvent.objects.all().delete()
    yield
    recorder.stop()
    recorder.discard()


def call(method: str, path: str, body: Any = None, **headers: str) -> HttpResponse:
    data = json.dumps(body) if body is not None else ""
    return getattr(Client(), method.lower())(  # type: ignore[no-any-return]
        path, data=data, content_type="application/json", headers=headers
    )


def stored(**filters: Any) -> list[AuditEvent]:
    """Flush the buffer, then the events (oldest first)."""
    recorder.flush()
    return list(AuditEvent.objects.filter(**filters).order_by("time", "id"))


def only(**filters: Any) -> AuditEvent:
    events = stored(**filters)
    assert len(events) == 1, [(e.verb, e.service, e.resource, e.status) for e in events]
    return events[0]


def text_values(event: AuditEvent) -> list[str]:
    """Every text column of a stored event."""
    return [
        getattr(event, f.name)
        for f in AuditEvent._meta.get_fields()
        if isinstance(f, models.CharField | models.TextField)
    ]


def context(**fields: Any) -> RequestContext:
    values = {"request_id": "r1", "method": "GET", "path": "/api/v2/shop/_table/t", "client": "::1"}
    return RequestContext(**(values | fields))


# --- what a record holds ------------------------------------------------------------------


def test_a_data_api_read_by_an_app_key_records_app_role_and_outcome(service: Any) -> None:
    reader = make_role(
        "shop reader", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )
    app, key = make_app("Dashboard", reader)
    response = call("GET", f"{T}/customers", **{"X-DreamFactory-Api-Key": key})
    assert response.status_code == 200
    event = only(request_id=response["X-Request-ID"])
    assert (event.app_id, event.app_name) == (app.id, "Dashboard")
    assert (event.role_id, event.role_name) == (reader.id, "shop reader")
    assert (event.user_id, event.user_email, event.is_admin) == (None, "", False)
    assert (event.service, event.resource, event.verb) == ("shop", "_table/customers", "GET")
    assert event.status == 200
    assert event.rows is None
    assert event.duration_ms > 0
    assert event.client == "127.0.0.1"
    assert abs((datetime.now(UTC) - event.time).total_seconds()) < 60


def test_failed_calls_are_recorded_with_their_status(service: Any, admin_token: str) -> None:
    reader = make_role(
        "shop reader", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )
    app, key = make_app("Dashboard", reader)
    assign_role(make_user("jane@example.com", "jane-password-123"), app, reader)
    jane = login("jane@example.com", "jane-password-123", key)
    recorder.discard()  # the logins above

    assert call("GET", f"{T}/customers").status_code == 401
    denied = call(
        "DELETE",
        f"{T}/customers/1",
        **{"X-DreamFactory-Api-Key": key, "X-DreamFactory-Session-Token": jane},
    )
    assert denied.status_code == 403
    missing = call("GET", f"{T}/no_such_table", **{"X-DreamFactory-Session-Token": admin_token})
    assert missing.status_code == 404

    anonymous, forbidden, not_found = stored()
    assert (anonymous.status, anonymous.verb, anonymous.resource) == (
        401,
        "GET",
        "_table/customers",
    )
    assert (anonymous.app_id, anonymous.user_id, anonymous.role_id) == (None, None, None)
    assert (forbidden.status, forbidden.verb, forbidden.resource) == (
        403,
        "DELETE",
        "_table/customers/1",
    )
    assert (forbidden.user_email, forbidden.app_name, forbidden.role_name) == (
        "jane@example.com",
        "Dashboard",
        "shop reader",
    )
    assert (not_found.status, not_found.resource, not_found.is_admin) == (
        404,
        "_table/no_such_table",
        True,
    )
    assert not_found.user_email == "admin@example.com"


def test_a_write_records_the_rows_it_wrote(api: Any) -> None:
    recorder.discard()  # the admin login of the `api` fixture
    status, _ = api.post(f"{T}/todo", [{"name": "audit one"}, {"name": "audit two"}])
    assert status == 200
    status, _ = api.patch(f"{T}/todo", [{"complete": True}], ids="1")
    assert status == 200
    created, patched = stored()
    assert (created.verb, created.rows, created.status) == ("POST", 2, 200)
    assert (patched.verb, patched.rows) == ("PATCH", 1)


def test_verb_tunnelling_records_the_effective_verb(api: Any) -> None:
    recorder.discard()  # the admin login of the `api` fixture
    status, _ = api.post(f"{T}/customers", headers={"X-HTTP-Method": "GET"})
    assert status == 200
    assert only().verb == "GET"


def test_a_given_request_id_is_stored_and_echoed() -> None:
    response = call("GET", f"{T}/customers", **{"X-Request-ID": "trace-42.audit:x"})
    assert response["X-Request-ID"] == "trace-42.audit:x"
    bad = call("GET", f"{T}/customers", **{"X-Request-ID": "not a valid id"})
    generated = bad["X-Request-ID"]
    assert generated != "not a valid id" and len(generated) == 32
    assert [e.request_id for e in stored()] == ["trace-42.audit:x", generated]


def test_cors_preflights_are_not_recorded_but_other_options_calls_are(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = Client().options(
        f"{T}/customers",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    refused = Client().options(
        f"{T}/customers",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "TRACE"},
    )
    assert refused.status_code == 405
    assert len(recorder.buffer) == 0
    plain = Client().options(f"{T}/customers")
    event = only()
    assert (event.verb, event.status) == ("OPTIONS", plain.status_code)


# --- the system API and logins, and no secret anywhere -------------------------------------


def _system_and_login_calls(service: Any, admin_token: str) -> dict[str, str]:
    """An admin system API call, a user login and a failed one; returns the secrets in play."""
    reader = make_role(
        "shop reader", [{"service": service, "component": "_table/*", "verb_mask": GET}]
    )
    app, key = make_app("Dashboard", reader)
    assign_role(make_user("jane@example.com", PASSWORD), app, reader)
    recorder.discard()
    listed = call("GET", "/api/v2/system/service", **{"X-DreamFactory-Session-Token": admin_token})
    assert listed.status_code == 200
    body = {"email": "jane@example.com", "password": PASSWORD}
    ok = call("POST", USER_SESSION, body, **{"X-DreamFactory-Api-Key": key})
    assert ok.status_code == 200
    token = ok.json()["session_token"]
    body = {"email": "jane@example.com", "password": WRONG_PASSWORD}
    assert call("POST", USER_SESSION, body, **{"X-DreamFactory-Api-Key": key}).status_code == 401
    body = {"email": "admin@example.com", "password": WRONG_PASSWORD}
    assert call("POST", ADMIN_SESSION, body).status_code == 401
    used = call("GET", f"{T}/customers?api_key={key}&session_token={token}")
    assert used.status_code == 200
    return {
        "password": PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "api key": key,
        "user token": token,
        "admin token": admin_token,
    }


def test_system_api_calls_and_logins_are_recorded_without_secrets(
    service: Any, admin_token: str
) -> None:
    secrets = _system_and_login_calls(service, admin_token)
    events = stored()
    summary = [(e.verb, e.service, e.resource, e.status) for e in events]
    assert summary == [
        ("GET", "system", "service", 200),
        ("POST", "user", "session", 200),
        ("POST", "user", "session", 401),
        ("POST", "system", "admin/session", 401),
        ("GET", "shop", "_table/customers", 200),
    ]
    assert (events[0].user_email, events[0].is_admin) == ("admin@example.com", True)
    for event in events:
        for value in text_values(event):
            for name, secret in secrets.items():
                assert secret not in value, f"the {name} is in an audit record"


def test_log_mode_writes_one_json_line_per_call_and_no_rows(
    settings: Any, service: Any, admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings.GATEWAY_AUDIT = "log"
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        secrets = _system_and_login_calls(service, admin_token)
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.audit"]
    assert len(lines) == 5
    records = [json.loads(line) for line in lines]
    assert all(set(record) == set(FIELDS) for record in records)
    assert [r["status"] for r in records] == [200, 200, 401, 401, 200]
    assert records[-1]["resource"] == "_table/customers"
    datetime.fromisoformat(records[0]["time"])
    for line in lines:
        for name, secret in secrets.items():
            assert secret not in line, f"the {name} is in an audit line"
    assert len(recorder.buffer) == 0
    assert stored() == []


def test_off_mode_records_nothing(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.GATEWAY_AUDIT = "off"
    with caplog.at_level(logging.INFO, logger="gateway.audit"):
        assert call("GET", f"{T}/customers").status_code == 401
    assert len(recorder.buffer) == 0
    assert not [r for r in caplog.records if r.name == "gateway.audit"]
    assert stored() == []


# --- the audit store: a database of its own -------------------------------------------------


def test_events_land_in_the_audit_store_and_never_in_the_metadata_database() -> None:
    ids = [call("GET", f"{T}/customers")["X-Request-ID"] for _ in range(3)]
    assert recorder.flush() == 3
    assert AuditEvent.objects.db == ALIAS
    table = AuditEvent._meta.db_table
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT request_id FROM {table} ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == ids
    # the metadata database has no audit table at all (migrations put it in the store only)
    assert table not in connections["default"].introspection.table_names()
    assert not legacy_table()


@pytest.mark.parametrize("started_at", [1_700_000_000.123456, 1_700_000_000.0])
def test_the_batched_sqlite_writer_stores_times_as_django_does(started_at: float) -> None:
    """One executemany INSERT on the raw connection, not bulk_create: the time is text in the
    form Django writes (and compares in lookups), with or without microseconds."""
    recorder.observe(context(started_at=started_at, status=200), HttpResponse())
    when = datetime.fromtimestamp(started_at, tz=UTC)
    assert recorder.flush() == 1
    event = AuditEvent.objects.get(time=when)  # Django's own parameter matches the stored text
    assert event.time == when
    assert AuditEvent.objects.filter(time__gte=when, time__lt=when + timedelta(seconds=1)).exists()
    by_orm = AuditEvent.objects.create(time=when, status=200, duration_ms=1.0, request_id="orm")
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT time FROM {AuditEvent._meta.db_table}")
        assert len(cursor.fetchall()) == 1, "the writer and the ORM stored different texts"
    assert by_orm.pk != event.pk


# --- the buffer and the flusher -----------------------------------------------------------


def test_nothing_is_written_on_the_request_path_and_flush_writes_it() -> None:
    for _ in range(3):
        call("GET", f"{T}/customers")
    assert len(recorder.buffer) == 3
    assert AuditEvent.objects.count() == 0
    assert recorder.flush() == 3
    assert AuditEvent.objects.count() == 3
    assert recorder.flush() == 0


def test_a_full_buffer_drops_the_oldest_and_says_so(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.GATEWAY_AUDIT_BUFFER = 3
    for n in range(5):
        recorder.observe(context(request_id=f"r{n}", status=200), HttpResponse())
    assert len(recorder.buffer) == 3
    with caplog.at_level(logging.WARNING, logger="audit.recorder"):
        assert recorder.flush() == 3
    assert [e.request_id for e in stored()] == ["r2", "r3", "r4"]
    assert "dropped the 2 oldest events" in caplog.text


def test_long_values_are_cut_to_their_columns() -> None:
    recorder.observe(context(resource="x" * 5000, client="c" * 500, status=404), HttpResponse())
    event = only()
    assert (len(event.resource), len(event.client)) == (1024, 64)


def _wait_for(condition: Any, deadline: float = 5.0) -> None:
    """Poll `condition` until true (the flusher writes on its own connection meanwhile)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if condition():
                return
        except OperationalError:  # SQLite: the flusher holds the table for a moment
            pass
        time.sleep(0.02)
    raise AssertionError("the flusher did not write in time")


def _old_event(days: int, **fields: Any) -> AuditEvent:
    values = {"time": datetime.now(UTC) - timedelta(days=days), "status": 200, "duration_ms": 1.0}
    return AuditEvent.objects.create(**(values | fields))


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_the_flusher_thread_writes_on_its_own_and_purges_old_events(settings: Any) -> None:
    settings.GATEWAY_AUDIT_FLUSH_SECONDS = 0.05
    settings.GATEWAY_AUDIT_RETENTION_DAYS = 30
    old = _old_event(40, request_id="old")
    recent = _old_event(3, request_id="recent")
    recorder.start_flusher()
    ids = [
        call("GET", f"{T}/customers", **{"X-Request-ID": f"t{n}"})["X-Request-ID"] for n in range(3)
    ]
    _wait_for(lambda: AuditEvent.objects.filter(request_id__in=ids).count() == 3)
    _wait_for(lambda: not AuditEvent.objects.filter(pk=old.pk).exists())
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    assert len(recorder.buffer) == 0


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_a_full_batch_wakes_the_flusher_before_the_interval(settings: Any) -> None:
    settings.GATEWAY_AUDIT_BATCH = 3
    recorder.start_flusher()  # waits an hour unless woken
    ids = [
        call("GET", f"{T}/customers", **{"X-Request-ID": f"b{n}"})["X-Request-ID"] for n in range(3)
    ]
    _wait_for(lambda: AuditEvent.objects.filter(request_id__in=ids).count() == 3)


# --- retention, export, admin, checks -----------------------------------------------------


def test_purge_audit_deletes_old_events_only(settings: Any) -> None:
    old = _old_event(40)
    recent = _old_event(10)
    out = io.StringIO()
    call_command("purge_audit", "--days", "30", stdout=out)
    assert "Deleted 1 audit events older than 30 days." in out.getvalue()
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [recent.pk]
    call_command("purge_audit", "--days", "5", stdout=io.StringIO())
    assert not AuditEvent.objects.exists()
    assert old.pk not in AuditEvent.objects.values_list("pk", flat=True)


def test_purge_audit_defaults_to_the_retention_setting(settings: Any) -> None:
    _old_event(40)
    out = io.StringIO()
    call_command("purge_audit", stdout=out)  # GATEWAY_AUDIT_RETENTION_DAYS = 0: keep
    assert "nothing deleted" in out.getvalue()
    assert AuditEvent.objects.count() == 1
    settings.GATEWAY_AUDIT_RETENTION_DAYS = 30
    call_command("purge_audit", stdout=io.StringIO())
    assert AuditEvent.objects.count() == 0


def _events_by_age(count: int) -> list[str]:
    """`count` events one hour apart, the oldest first; their request ids."""
    now = datetime.now(UTC)
    ids = [f"e{n}" for n in range(count)]
    AuditEvent.objects.bulk_create(
        AuditEvent(
            time=now - timedelta(hours=count - n), request_id=ids[n], status=200, duration_ms=1
        )
        for n in range(count)
    )
    return ids


def _left() -> list[str]:
    return list(AuditEvent.objects.order_by("time").values_list("request_id", flat=True))


def test_purge_audit_keeps_the_newest_max_events() -> None:
    ids = _events_by_age(8)
    out = io.StringIO()
    call_command("purge_audit", "--days", "0", "--max-events", "5", stdout=out)
    assert "Deleted the 3 oldest audit events beyond 5." in out.getvalue()
    assert _left() == ids[3:]
    out = io.StringIO()
    call_command("purge_audit", "--days", "0", "--max-events", "5", stdout=out)
    assert "Deleted the 0 oldest" in out.getvalue()
    assert _left() == ids[3:]


def test_purge_audit_defaults_to_the_max_events_setting(settings: Any) -> None:
    ids = _events_by_age(4)
    out = io.StringIO()
    call_command("purge_audit", stdout=out)  # GATEWAY_AUDIT_MAX_EVENTS = 0: no limit
    assert "nothing deleted by count" in out.getvalue()
    settings.GATEWAY_AUDIT_MAX_EVENTS = 1
    call_command("purge_audit", stdout=io.StringIO())
    assert _left() == ids[3:]
    with pytest.raises(CommandError, match="must not be negative"):
        call_command("purge_audit", "--max-events", "-1", stdout=io.StringIO())


def test_retention_deletes_the_oldest_in_bounded_batches() -> None:
    ids = _events_by_age(10)
    # two statements of two events each, then it stops with more to do
    assert trim(4, batch=2, max_batches=2) == (4, False)
    assert _left() == ids[4:]
    assert trim(4, batch=2) == (2, True)
    assert _left() == ids[6:]
    assert trim(4) == (0, True)
    # down to `keep` (the flusher keeps 95 %) once over the limit, never below it
    assert trim(3, keep=2) == (2, True)
    assert _left() == ids[8:]
    AuditEvent.objects.filter(request_id="e9").update(time=datetime.now(UTC) - timedelta(days=40))
    assert purge_some(30, batch=1, max_batches=5) == (1, True)
    assert _left() == ["e8"]


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_the_flusher_keeps_at_most_max_events(settings: Any) -> None:
    settings.GATEWAY_AUDIT_FLUSH_SECONDS = 0.05
    settings.GATEWAY_AUDIT_MAX_EVENTS = 5
    old = _events_by_age(8)
    new = [call("GET", f"{T}/customers")["X-Request-ID"] for _ in range(2)]
    recorder.start_flusher()  # its first flush writes the two, then trims to the newest five
    _wait_for(lambda: _left() == [*old[5:], *new])


def test_export_audit_writes_json_lines_filtered_by_time_and_service(tmp_path: Path) -> None:
    _old_event(10, service="shop", request_id="old-shop")
    _old_event(2, service="shop", request_id="new-shop", rows=3)
    _old_event(1, service="system", request_id="new-system")
    since = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    output = tmp_path / "audit.jsonl"
    call_command(
        "export_audit",
        "--since",
        since,
        "--service",
        "shop",
        "--output",
        str(output),
        stderr=io.StringIO(),
    )
    lines = output.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(record) == {"id", *FIELDS}
    assert (record["request_id"], record["rows"], record["service"]) == ("new-shop", 3, "shop")
    assert datetime.fromisoformat(record["time"]) > datetime.fromisoformat(since)

    out = io.StringIO()
    call_command("export_audit", "--since", since[:10], stdout=out)  # a bare date, UTC
    ids = [json.loads(line)["request_id"] for line in out.getvalue().splitlines()]
    assert ids == ["new-shop", "new-system"]  # oldest first
    out = io.StringIO()
    until = (datetime.now(UTC) - timedelta(days=5)).replace(tzinfo=None).isoformat()
    call_command("export_audit", "--until", until, stdout=out)
    assert [json.loads(line)["request_id"] for line in out.getvalue().splitlines()] == ["old-shop"]
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("export_audit", "--since", "last tuesday", stdout=io.StringIO())


def test_the_admin_lists_filters_and_exports_events(admin_user: Any) -> None:
    ok = _old_event(0, service="shop", resource="_table/audit_ok", status=200)
    failed = _old_event(0, service="shop", resource="_table/audit_failed", status=404)
    client = Client()
    client.force_login(admin_user)
    url = "/admin/audit/auditevent/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for title in ("By service", "By verb", "By status", "By app name", "By is admin", "4xx"):
        assert title in html
    assert "_table/audit_ok" in html and "_table/audit_failed" in html
    page = client.get(url, {"status_class": "4xx"})
    html = page.content.decode()
    assert "_table/audit_failed" in html and "_table/audit_ok" not in html
    page = client.get(url, {"q": "audit_ok"})
    assert "_table/audit_failed" not in page.content.decode()

    assert client.get(url + "add/").status_code == 403
    assert "delete_selected" not in client.get(url).content.decode()

    response = client.post(
        url, {"action": "export_jsonl", "_selected_action": [ok.pk, failed.pk], "index": 0}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    records = [json.loads(line) for line in body.splitlines()]
    assert sorted(r["id"] for r in records) == sorted([ok.pk, failed.pk])
    assert {r["resource"] for r in records} == {"_table/audit_ok", "_table/audit_failed"}


@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_move_audit_moves_events_left_in_the_metadata_database() -> None:
    """An upgraded deployment: its metadata database still has the audit table of a gateway
    from before the audit store of its own."""
    metadata = connections["default"]
    with metadata.schema_editor() as editor:
        editor.create_model(AuditEvent)
    try:
        left = AuditEvent.objects.using("default")
        now = datetime.now(UTC)
        left.bulk_create(
            AuditEvent(
                time=now - timedelta(days=9 - n),
                request_id=f"old{n}",
                service="shop",
                status=200 + n,
                duration_ms=1.5,
                rows=n,
                is_admin=n % 2 == 0,
            )
            for n in range(7)
        )
        _old_event(0, request_id="new")  # written since the upgrade, in the store
        assert legacy_table()
        out = io.StringIO()
        call_command("migrate", verbosity=0, stdout=out)
        assert "`python manage.py move_audit`" in out.getvalue()

        out = io.StringIO()
        call_command("move_audit", "--batch", "3", stdout=out)
        assert "Moved 7 audit events" in out.getvalue()
        assert not left.exists() and not legacy_table()
        events = list(AuditEvent.objects.order_by("time"))
        assert [e.request_id for e in events] == [*(f"old{n}" for n in range(7)), "new"]
        assert [(e.status, e.rows, e.is_admin) for e in events[:2]] == [
            (200, 0, True),
            (201, 1, False),
        ]
        out = io.StringIO()
        call_command("move_audit", stdout=out)
        assert "Moved 0 audit events" in out.getvalue()
    finally:
        with metadata.schema_editor() as editor:
            editor.delete_model(AuditEvent)
    out = io.StringIO()
    call_command("move_audit", stdout=out)
    assert "nothing to move" in out.getvalue()


def test_misconfigured_audit_settings_are_system_check_errors(settings: Any) -> None:
    assert check_audit_settings(None) == []
    settings.GATEWAY_AUDIT = "database"
    settings.GATEWAY_AUDIT_BATCH = 0
    settings.GATEWAY_AUDIT_RETENTION_DAYS = -1
    settings.GATEWAY_AUDIT_MAX_EVENTS = -1
    ids = [problem.id for problem in check_audit_settings(None)]
    assert ids == ["audit.E001", "audit.E002", "audit.E003", "audit.E005"]


def test_the_audit_store_must_be_a_database_of_its_own(tmp_path: Path) -> None:
    sqlite = "django.db.backends.sqlite3"
    pg = "django.db.backends.postgresql"
    metadata = {"ENGINE": sqlite, "NAME": str(tmp_path / "gateway.sqlite3")}
    own = {"ENGINE": sqlite, "NAME": str(tmp_path / "gateway-audit.sqlite3")}
    assert store_problems({"default": metadata, ALIAS: own}, "db", "") == []
    same = {"ENGINE": sqlite, "NAME": str(tmp_path / "." / "gateway.sqlite3")}
    ids = [p.id for p in store_problems({"default": metadata, ALIAS: same}, "db", "x")]
    assert ids == ["audit.E004"]
    shared = {"ENGINE": pg, "NAME": "gateway", "HOST": "db", "PORT": 5432}
    assert [p.id for p in store_problems({"default": shared, ALIAS: shared}, "log", "x")] == [
        "audit.E004"
    ]
    audit_db = {**shared, "NAME": "gateway_audit"}
    assert store_problems({"default": shared, ALIAS: audit_db}, "db", "postgres://...") == []
    # a shared metadata database but a file of this instance for the trail: say so
    warned = store_problems({"default": shared, ALIAS: own}, "db", "")
    assert [p.id for p in warned] == ["audit.W001"]
    assert "GATEWAY_AUDIT_DATABASE_URL=postgres://" in str(warned[0].hint)
    assert store_problems({"default": shared, ALIAS: own}, "db", "sqlite:///x") == []
    assert store_problems({"default": shared, ALIAS: own}, "off", "") == []
    assert [p.id for p in store_problems({"default": shared}, "db", "")] == ["audit.E006"]
