"""What the sign-in tests (LDAP, OIDC, SAML; API and browser) share: the role a group maps to,
and the check that Alice's first sign-in answered her session and made her gateway user."""

from __future__ import annotations

from typing import Any

from core.verbs import GET
from tests.conftest import make_role


def completed_todos_role(service: Any, name: str = "sales") -> Any:
    """A role that reads only the completed todos of `service` (a row filter)."""
    completed = [{"name": "complete", "operator": "=", "value": "true"}]
    rule = {"service": service, "component": "_table/todo", "verb_mask": GET, "filters": completed}
    return make_role(name, [rule])


def assert_alice_signed_in(body: dict[str, Any], source: str, role: Any, app: Any) -> Any:
    """The session answer is Alice's (her names from the provider) with `role`, and her gateway
    user was made by the provider (`source`, no usable password) with `role` for `app`."""
    from rbac.models import User, UserAppRole

    assert body["email"] == "alice@example.com"
    assert (body["first_name"], body["last_name"]) == ("Alice", "Anders")
    assert body["role"] == role.name and body["role_id"] == role.pk
    user = User.objects.get(email="alice@example.com")
    assert user.source == source and not user.has_usable_password()
    assert UserAppRole.objects.get(user=user, app=app).role == role
    return user
