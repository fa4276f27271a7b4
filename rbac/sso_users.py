"""What every sign-in provider does once it has proved who someone is (issue #15): find or
create the gateway user by email, note where they came from, and set their role for the calling
app from their groups. The session itself is the gateway's usual JWT (rbac.sessions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import NotAuthenticated
from rbac import catalog
from rbac.models import Provider, Role, User, UserAppRole

INVALID_CREDENTIALS = "Invalid credentials supplied."


@dataclass
class Identity:
    """What a provider vouches for: `subject` is its own id for the user (an LDAP DN, an OIDC
    `sub`, a SAML NameID); `groups` are names or DNs matched against the role maps."""

    subject: str
    email: str
    first_name: str = ""
    last_name: str = ""
    name: str = ""
    groups: list[str] = field(default_factory=list)


def _matches(group: str, wanted: str) -> bool:
    """A group matches by its full DN, or by its bare CN / name."""
    group, wanted = group.strip().lower(), wanted.strip().lower()
    if group == wanted:
        return True
    if "=" in wanted:
        return False
    return group.split(",", 1)[0] in (wanted, f"cn={wanted}")


def mapped_role(provider: Provider, groups: list[str], app: Any) -> Role | None:
    """The first mapping whose group the user is in (the app's own mappings first), else the
    provider's default role."""
    mappings: list[Any] = []
    if app is not None and isinstance(provider.app_role_map, dict):
        mappings += provider.app_role_map.get(str(app.id)) or []
    mappings += provider.role_map if isinstance(provider.role_map, list) else []
    for mapping in mappings:
        if not isinstance(mapping, dict):
            continue
        wanted = str(mapping.get("group") or "")
        if wanted and any(_matches(g, wanted) for g in groups):
            return Role.objects.filter(pk=int(mapping.get("role_id") or 0)).first()
    return provider.default_role


def sign_in(provider: Provider, identity: Identity, app: Any) -> User:
    """The gateway user for `identity`: created on first sign-in, or linked by email. Two first
    sign-ins at once: the one that loses the insert links the user the other created. Admins
    and disabled users are refused (401)."""
    if not identity.email:
        raise NotAuthenticated(
            f"The provider '{provider.name}' did not say the user's email address; "
            "the gateway links users by email."
        )
    try:
        return _sign_in(provider, identity, app)
    except IntegrityError:
        return _sign_in(provider, identity, app)


def _sign_in(provider: Provider, identity: Identity, app: Any) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=identity.email).first()
        if user is None:
            user = User(email=identity.email.lower())
            user.set_unusable_password()
        elif user.is_staff or not user.is_active:
            raise NotAuthenticated(INVALID_CREDENTIALS)
        user.source = provider.source
        user.first_name = identity.first_name[:150] or user.first_name
        user.last_name = identity.last_name[:150] or user.last_name
        user.name = identity.name[:255] or user.name
        user.save()
        if app is not None:
            role = mapped_role(provider, identity.groups, app)
            if role is None:
                UserAppRole.objects.filter(user=user, app_id=app.id).delete()
            else:
                UserAppRole.objects.update_or_create(
                    user=user, app_id=app.id, defaults={"role": role}
                )
    # this request answers the new role: drop the snapshots now, not at the next metadata poll
    catalog.clear_cache()
    return user
