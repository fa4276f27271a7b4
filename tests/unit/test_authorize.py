"""Authorize stage (`rbac.policy.authorize`): Principal x service x component x verb -> Grant.

Principals, sessions, apps and roles are the in-process snapshots the policy reads
(rbac.sessions, apikeys.lookup, rbac.catalog); nothing here loads them from the metadata DB.
Messages are the spec's §7.5 table (with 401 for missing credentials, a documented choice).
"""

from __future__ import annotations

import time

import pytest

from apikeys.lookup import AppSnapshot
from core.errors import Forbidden, GatewayError, NotAuthenticated
from core.verbs import ALL_VERBS, DELETE, GET, PATCH, POST
from rbac.catalog import RoleSnapshot
from rbac.policy import (
    FULL_ACCESS,
    MISSING_JWT,
    NO_API_KEY,
    NO_CREDENTIALS,
    NO_ROLE,
    NOT_AUTHENTICATED,
    ROLE_INACTIVE,
    UNKNOWN_KEY,
    Grant,
    Principal,
    authorize,
)
from rbac.row_filters import bind_for_table, parse_filters
from rbac.rules import AccessRule, normalize_component
from rbac.sessions import Session, UserSnapshot
from services.plan.filter_ast import Condition, Or, Value
from services.plan.types import BoundCondition
from services.sql.plan import compile_plan
from tests.unit.catalog_fixture import ORDERS
from tests.unit.stages import bind, text_of

SHOP = 1  # the service's id
OTHER_SERVICE = 2
ROLE_ID = 10


def session(user_id: int = 7, *, admin: bool = False) -> Session:
    user = UserSnapshot(
        id=user_id,
        email="admin@example.com" if admin else "ann@example.com",
        is_active=True,
        is_admin=admin,
        first_name="Ann",
    )
    return Session(user=user, jti="ab" * 16, exp=int(time.time()) + 3600)


APP = AppSnapshot(id=3, name="storefront", is_active=True, role_id=ROLE_ID, digest="unused")


def rule(
    component: str,
    verbs: int,
    *,
    service: int | None = SHOP,
    filters: list[dict[str, str]] | None = None,
) -> AccessRule:
    """A rule as rbac.catalog loads it: the component normalised, the filters parsed."""
    return AccessRule(
        service_id=service,
        component=normalize_component(component),
        verbs=verbs,
        filters=parse_filters(filters),
    )


def role(*rules: AccessRule, active: bool = True) -> RoleSnapshot:
    return RoleSnapshot(ROLE_ID, "orders-reader", active, db_role="", rules=rules)


def user_with(role_: RoleSnapshot | None) -> Principal:
    """A logged-in user calling through the storefront app, acting with `role_`."""
    return Principal(session=session(), app=APP, api_key_given=True, role=role_)


def app_only(role_: RoleSnapshot | None) -> Principal:
    """The storefront app's key alone (no user), acting with its default role."""
    return Principal(session=None, app=APP, api_key_given=True, role=role_)


def check(principal: Principal, component: str, verb: str) -> Grant:
    return authorize(principal, SHOP, "shop", component, verb)


def refusal(principal: Principal, component: str, verb: str) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        check(principal, component, verb)
    return caught.value


ORDERS_READER = role(rule("_table/orders", GET))


# --- who may call at all ---------------------------------------------------------------------


def test_admin_gets_full_access_without_an_app_or_role() -> None:
    admin = Principal(session=session(1, admin=True), app=None, api_key_given=False)
    grant = check(admin, "_table/anything", "DELETE")
    assert grant is FULL_ACCESS
    assert grant.verbs == ALL_VERBS and grant.row_filter is None and grant.is_admin


def test_no_credentials_is_a_401_with_the_spec_message() -> None:
    error = refusal(Principal(session=None, app=None, api_key_given=False), "_table/orders", "GET")
    assert isinstance(error, NotAuthenticated)
    assert error.status == 401
    assert error.message == NO_CREDENTIALS
    assert error.message.startswith("No session token (JWT) or API Key detected in request.")


def test_a_missing_half_of_the_credentials_is_named() -> None:
    error = refusal(Principal(session=session(), app=None, api_key_given=False), "_table", "GET")
    assert (error.status, error.message) == (401, NO_API_KEY)
    # an API key that matches no active app, and no token
    error = refusal(Principal(session=None, app=None, api_key_given=True), "_table", "GET")
    assert (error.status, error.message) == (401, MISSING_JWT)
    assert error.context == {"api_key": UNKNOWN_KEY}


def test_user_and_app_without_a_role_is_a_403_no_role() -> None:
    error = refusal(user_with(None), "_table/orders", "GET")
    assert isinstance(error, Forbidden)
    assert (
        error.message
        == NO_ROLE
        == ("Role not found. A role may not be assigned to you or your application.")
    )


def test_inactive_role_allows_nothing() -> None:
    error = refusal(user_with(role(rule("*", ALL_VERBS), active=False)), "_table/orders", "GET")
    assert isinstance(error, Forbidden)
    assert error.message == ROLE_INACTIVE


# --- what the role allows ----------------------------------------------------------------------


def test_role_allowing_get_on_one_table() -> None:
    grant = check(user_with(ORDERS_READER), "_table/orders", "GET")
    assert grant.verbs == GET
    assert grant.row_filter is None and not grant.is_admin
    # compared without regard to case or surrounding slashes
    assert check(user_with(ORDERS_READER), "/_Table/ORDERS/", "GET").verbs == GET
    # rules of another service grant nothing here
    other = role(rule("*", ALL_VERBS, service=OTHER_SERVICE))
    assert refusal(user_with(other), "_table/orders", "GET").status == 403


def test_write_refused_by_a_read_only_role_is_a_403_naming_verb_component_and_service() -> None:
    error = refusal(user_with(ORDERS_READER), "_table/orders", "POST")
    assert isinstance(error, Forbidden)
    assert error.message == (
        "Access Forbidden. POST access to component '_table/orders' of service 'shop' is not "
        "allowed by this user's role."
    )
    assert error.context == {"service": "shop", "component": "_table/orders", "verb": "POST"}


def test_other_table_and_record_paths_are_not_covered_by_an_exact_rule() -> None:
    for component in ("_table/customers", "_table/orders/5", "_schema/orders"):
        error = refusal(user_with(ORDERS_READER), component, "GET")
        assert error.status == 403, component
        assert f"GET access to component '{component}'" in error.message


def test_app_key_alone_refused_is_a_401_not_authenticated() -> None:
    error = refusal(app_only(ORDERS_READER), "_table/orders", "DELETE")
    assert isinstance(error, NotAuthenticated)
    assert error.message == NOT_AUTHENTICATED
    assert check(app_only(ORDERS_READER), "_table/orders", "GET").verbs == GET


def test_component_wildcard_and_the_more_specific_rule_winning() -> None:
    principal = user_with(role(rule("_table/*", GET | POST), rule("_table/orders", GET | PATCH)))
    assert check(principal, "_table/customers", "POST").verbs == GET | POST
    assert check(principal, "_table/customers/5", "GET").verbs == GET | POST
    assert check(principal, "_table/orders", "PATCH").verbs == GET | PATCH
    # the exact rule replaces the wildcard for orders: its POST does not add up
    assert refusal(principal, "_table/orders", "POST").status == 403
    assert refusal(principal, "_table/customers", "DELETE").status == 403


def test_service_wildcard_never_reaches_sql() -> None:
    principal = user_with(role(rule("*", ALL_VERBS)))
    assert check(principal, "_func/add_numbers", "POST").verbs == ALL_VERBS
    assert refusal(principal, "_sql", "POST").status == 403


# --- row filters -------------------------------------------------------------------------------


OWN_ORDERS = [{"name": "customer_id", "operator": "=", "value": "{user.id}"}]


def test_row_filter_is_on_the_grant_with_the_users_lookups_filled_in() -> None:
    principal = user_with(role(rule("_table/orders", GET | PATCH, filters=OWN_ORDERS)))
    grant = check(principal, "_table/orders", "GET")
    assert grant.row_filter == Condition("customer_id", "=", Value(7, quoted=True, from_param=True))


def test_row_filters_of_two_granting_rules_are_ored() -> None:
    principal = user_with(
        role(
            rule("_table/orders", GET, filters=OWN_ORDERS),
            rule(
                "_table/orders",
                GET,
                filters=[{"name": "status", "operator": "=", "value": "'open'"}],
            ),
        )
    )
    grant = check(principal, "_table/orders", "GET")
    assert isinstance(grant.row_filter, Or)
    assert len(grant.row_filter.items) == 2


def test_a_granting_rule_without_filters_lifts_the_row_filter() -> None:
    principal = user_with(
        role(rule("_table/orders", GET, filters=OWN_ORDERS), rule("_table/orders", GET | DELETE))
    )
    assert check(principal, "_table/orders", "GET").row_filter is None


def test_row_filter_needs_a_user_when_it_names_one() -> None:
    error = refusal(
        app_only(role(rule("_table/orders", GET, filters=OWN_ORDERS))), "_table/orders", "GET"
    )
    assert error.status == 401


def test_granted_row_filter_binds_and_is_anded_into_the_sql() -> None:
    principal = user_with(role(rule("_table/orders", GET, filters=OWN_ORDERS)))
    grant = check(principal, "_table/orders", "GET")
    row_filter = bind_for_table(grant.row_filter, ORDERS)
    assert row_filter == BoundCondition(ORDERS.column("customer_id"), "=", 7)
    statement = compile_plan(
        bind("GET", "_table/orders", {"filter": "status = 'paid'"}), row_filter
    )
    assert statement is not None
    assert 'WHERE ("_t"."status" = %s AND "_t"."customer_id" = %s)' in text_of(statement)
    assert statement.params[:2] == ["paid", 7]


def test_grant_checks_embedded_tables_with_the_same_role() -> None:
    principal = user_with(role(rule("_table/orders", GET), rule("_table/customers", POST)))
    grant = check(principal, "_table/orders", "GET")
    assert grant.mask("_table/customers") == POST
    with pytest.raises(Forbidden):
        grant.check("_table/customers", "GET")
