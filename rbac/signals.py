"""Changes to users, roles, rules, apps, per-app roles and sign-in providers bump the metadata
version, so every process drops its snapshots (rbac/catalog.py, rbac/sessions.py,
apikeys/lookup.py, rbac/external_tokens.py); revocations travel on their own counter
(rbac/revocation.py)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apikeys.lookup import clear_cache as clear_apps
from apikeys.models import App
from core.metadata import bump, stamp
from rbac import catalog, revocation
from rbac.models import (
    LdapProvider,
    OidcProvider,
    Role,
    RoleServiceAccess,
    SamlProvider,
    User,
    UserAppRole,
)
from rbac.sessions import clear_caches


@receiver(post_save, sender=Role)
@receiver(post_delete, sender=Role)
@receiver(post_save, sender=RoleServiceAccess)
@receiver(post_delete, sender=RoleServiceAccess)
@receiver(post_save, sender=UserAppRole)
@receiver(post_delete, sender=UserAppRole)
@receiver(post_save, sender=App)
@receiver(post_delete, sender=App)
@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
@receiver(post_save, sender=LdapProvider)
@receiver(post_save, sender=OidcProvider)
@receiver(post_save, sender=SamlProvider)
def access_changed(sender: Any, **kwargs: Any) -> None:
    bump()


stamp.on_change(catalog.clear_cache)
stamp.on_change(clear_apps)
stamp.on_change(clear_caches)
stamp.on_revocation(revocation.sync)
