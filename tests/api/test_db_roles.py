"""The database-roles option (issue #3, item 5), on a real row-level security policy.

Service `shop` with use_db_roles runs each non-admin request in a transaction as the caller's
role's db_role, with the session's claims in request.jwt.claims; the `notes` table's policy
(tests/fixtures/schema_rls.sql) shows each user only the notes carrying their email.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from core.verbs import ALL_VERBS
from services.models import Service
from tests.conftest import (
    assign_role,
    client_for,
    login,
    make_app,
    make_role,
    make_user,
    service_kwargs,
)

pytestmark = pytest.mark.django_db

NOTES = "/api/v2/shop/_table/notes"
PASSWORD = "user-password-123"


@pytest.fixture(scope="session")
def db_role(pg_server: str) -> Iterator[str]:
    """A NOLOGIN PostgreSQL role (cluster-wide, so uniquely named), dropped afterwards."""
    name = f"gw_rls_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def rls_service(db: Any, seeded: dict[str, Any]) -> Any:
    return Service.objects.create(**service_kwargs(seeded, use_db_roles=True))


@pytest.fixture
def people(rls_service: Any, db_role: str) -> dict[str, str]:
    """Key and tokens: Acme's and Globex's users share a role mapped to `db_role`."""
    writer = make_role(
        "note writers",
        [{"service": rls_service, "component": "_table/*", "verb_mask": ALL_VERBS}],
        db_role=db_role,
    )
    unmapped = make_role(
        "unmapped", [{"service": rls_service, "component": "_table/*", "verb_mask": ALL_VERBS}]
    )
    app, key = make_app("notes app", writer)
    for email, role in (
        ("acme@example.com", writer),
        ("globex@example.com", writer),
        ("nobody@example.com", unmapped),
    ):
        assign_role(make_user(email, PASSWORD), app, role)
    return {
        "key": key,
        "acme": login("acme@example.com", PASSWORD, key),
        "globex": login("globex@example.com", PASSWORD, key),
        "unmapped": login("nobody@example.com", PASSWORD, key),
    }


def _bodies(answer: Any) -> list[str]:
    return [r["body"] for r in answer["resource"]]


def test_each_user_sees_only_their_rows_through_the_policy(people: dict[str, str]) -> None:
    status, body = client_for(people["key"], people["acme"]).get(NOTES)
    assert (status, _bodies(body)) == (200, ["acme note"])
    status, body = client_for(people["key"], people["globex"]).get(NOTES)
    assert (status, _bodies(body)) == (200, ["globex note"])
    status, body = client_for(people["key"], people["acme"]).get(f"{NOTES}/2")
    assert status == 404  # Globex's note does not exist for Acme


def test_admins_run_as_the_services_own_user(people: dict[str, str], admin_token: str) -> None:
    status, body = client_for(token=admin_token).get(NOTES)
    assert (status, _bodies(body)) == (200, ["acme note", "globex note"])


def test_the_policy_checks_written_rows(people: dict[str, str], pg: Any) -> None:
    acme = client_for(people["key"], people["acme"])
    status, body = acme.post(NOTES, [{"owner_email": "acme@example.com", "body": "mine"}])
    assert status == 200, body
    status, body = acme.post(NOTES, [{"owner_email": "globex@example.com", "body": "forged"}])
    assert status == 400
    inner = body["error"]["context"]["resource"][0]
    assert inner["status_code"] == 403
    assert "row-level security" in inner["message"]
    status, body = acme.patch(f"{NOTES}/1", {"owner_email": "globex@example.com"})
    assert status == 403
    rows = pg.execute("SELECT owner_email, body FROM notes ORDER BY id").fetchall()
    assert rows == [
        ("acme@example.com", "acme note"),
        ("globex@example.com", "globex note"),
        ("acme@example.com", "mine"),
    ]


def test_grants_apply_to_the_mapped_role(people: dict[str, str]) -> None:
    # the role has no privileges on `todo`: PostgreSQL refuses, whatever the gateway role says
    status, body = client_for(people["key"], people["acme"]).get("/api/v2/shop/_table/todo")
    assert status == 403
    assert "permission denied" in body["error"]["message"]


def test_claims_and_role_are_transaction_local(people: dict[str, str], pg: Any) -> None:
    """After a request the pooled connection is back to the service's user: an admin call on
    the same pool sees every row, and nothing of the user's claims remains."""
    assert client_for(people["key"], people["acme"]).get(NOTES)[0] == 200
    from services.registry import registry

    with registry.get("shop").pool.connection() as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('request.jwt.claims', true)"
        ).fetchone()
    assert row is not None
    assert row[0] == pg.execute("SELECT current_user").fetchone()[0]
    assert row[1] in (None, "")


def test_a_role_without_a_database_role_is_refused(people: dict[str, str]) -> None:
    status, body = client_for(people["key"], people["unmapped"]).get(NOTES)
    assert status == 403
    assert "has no database role" in body["error"]["message"]


def test_sql_is_for_admins_only_on_such_a_service(
    people: dict[str, str], rls_service: Any, admin_token: str
) -> None:
    rls_service.allow_sql = True
    rls_service.save()
    from rbac.models import Role, RoleServiceAccess

    role = Role.objects.get(name="note writers")
    RoleServiceAccess.objects.create(
        role=role, service=rls_service, component="_sql", verb_mask=ALL_VERBS
    )
    query = {"query": "SELECT set_config('role', 'postgres', false)"}
    status, body = client_for(people["key"], people["acme"]).post("/api/v2/shop/_sql", query)
    assert status == 403
    assert "admins only" in body["error"]["message"]
    status, _ = client_for(token=admin_token).post(
        "/api/v2/shop/_sql", {"query": "SELECT count(*) AS n FROM notes"}
    )
    assert status == 200


def test_a_missing_database_role_is_an_actionable_error(
    people: dict[str, str], rls_service: Any
) -> None:
    from rbac.models import Role

    Role.objects.filter(name="note writers").update(db_role="gw_no_such_role")
    from core.metadata import bump

    bump()
    status, body = client_for(people["key"], people["acme"]).get(NOTES)
    assert status == 500
    assert "could not run as database role 'gw_no_such_role'" in body["error"]["message"]


def test_turning_the_option_on_for_a_serving_service_takes_effect(
    service: Any, db_role: str
) -> None:
    """The pool is kept when only options change; the option must still apply at once."""
    reader = make_role(
        "reader", [{"service": service, "component": "_table/*", "verb_mask": ALL_VERBS}]
    )
    reader.db_role = db_role
    reader.save()
    app, key = make_app("toggle app", reader)
    assign_role(make_user("acme@example.com", PASSWORD), app, reader)
    acme = client_for(key, login("acme@example.com", PASSWORD, key))
    assert len(acme.get(NOTES)[1]["resource"]) == 2  # as the service's own (superuser) role
    service.use_db_roles = True
    service.save()
    assert _bodies(acme.get(NOTES)[1]) == ["acme note"]
