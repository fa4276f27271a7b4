"""The database router of the audit trail: AuditEvent lives in the audit store (the database
alias "audit", GATEWAY_AUDIT_DATABASE_URL), apart from the metadata admins edit.

Never sends another app's model to the audit store, nor migrates one there; never migrates the
audit app anywhere else.
"""

from __future__ import annotations

from typing import Any

ALIAS = "audit"  # settings.DATABASES[ALIAS]
APP_LABEL = "audit"


def _is_audit(model: Any) -> bool:
    return bool(model._meta.app_label == APP_LABEL)


class AuditRouter:
    """settings.DATABASE_ROUTERS: the audit app on ALIAS, everything else elsewhere."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return ALIAS if _is_audit(model) else None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return ALIAS if _is_audit(model) else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # an event names apps, users and services by id, never by a foreign key
        if _is_audit(obj1) or _is_audit(obj2):
            return _is_audit(obj1) and _is_audit(obj2)
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label == APP_LABEL:
            return db == ALIAS
        if db == ALIAS:
            return False
        return None
