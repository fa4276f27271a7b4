"""Config as code (issue #16): this gateway's configuration read into the file's shape.

`export_config()` reads services (databases and sign-in providers), roles with their rules,
apps (never their keys), users (never passwords; admins stay out), per-app user roles, limits,
lookups and CORS rules. Records are keyed by name (a user by email, a lookup by its owner and
name, a CORS rule by path and origin) and refer to each other by name, so the document imports
into another gateway (gateway/config_import.py). Secrets are left out, or Fernet-encrypted with
this gateway's key (gateway/config_secrets.py).
"""

from __future__ import annotations

import itertools
import json
from typing import Any, cast

from django.db import models

from apikeys.models import App
from core.errors import BadRequest
from core.models import CorsRule
from gateway.config_format import (
    APP_FIELDS,
    CORS_FIELDS,
    FORMAT,
    LIMIT_FIELDS,
    ROLE_FIELDS,
    SERVICE_INFO,
    USER_FIELDS,
    VERSION,
    cors_key,
    lookup_key,
    name_key,
)
from gateway.config_secrets import PLAIN, put_secret, secret_fields, secret_mode
from limits.models import Limit
from lookups.models import Lookup
from rbac.models import Role, RoleServiceAccess, User
from services.models import Service
from services.system.service_types import CONFIG_FIELDS, PROVIDERS, ProviderConfig


class Names:
    """Database ids -> the names the document uses, read once per export."""

    def __init__(self) -> None:
        self.roles = dict(Role.objects.values_list("pk", "name"))
        self.apps = dict(App.objects.values_list("pk", "name"))
        self.services = dict(Service.objects.values_list("pk", "name"))
        self.users = dict(User.objects.values_list("pk", "email"))

    def role(self, pk: Any) -> str | None:
        found = _as_int(pk)
        return self.roles.get(found) if found is not None else None


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def provider_model(handler: ProviderConfig) -> type[models.Model]:
    """The detail model (rbac's LdapProvider, OidcProvider, ...) a provider type stores in."""
    return cast("type[models.Model]", handler.model)  # type: ignore[attr-defined]


def _named_map(items: Any, names: Names) -> list[dict[str, Any]]:
    return [
        {"group": item.get("group"), "role": names.role(item.get("role_id"))}
        for item in items or []
        if isinstance(item, dict)
    ]


def _provider_config(
    service: Service, handler: ProviderConfig, mode: str, names: Names
) -> dict[str, Any]:
    """A provider's `config` as `system/service` answers it, with role and app ids as names
    and its secrets as `mode` says."""
    config = handler.config(service)
    model = provider_model(handler)
    row = model._default_manager.filter(service=service).first()
    for key in secret_fields(model):
        config.pop(key, None)
        put_secret(config, key, getattr(row, key, ""), mode)
    config["default_role"] = names.role(config.get("default_role"))
    config["role_map"] = _named_map(config.get("role_map"), names)
    app_map = config.get("app_role_map") or {}
    config["app_role_map"] = {
        names.apps[app_id]: _named_map(items, names)
        for app_id, items in ((_as_int(k), v) for k, v in app_map.items())
        if app_id in names.apps
    }
    return config


def service_record(service: Service, mode: str, names: Names) -> dict[str, Any]:
    """A service (a database, or a sign-in provider with its settings) as the file holds it."""
    record: dict[str, Any] = {
        "name": service.name,
        "type": service.type,
        **{key: getattr(service, key) for key in SERVICE_INFO},
    }
    handler = PROVIDERS.get(service.type)
    if handler is not None:
        record["config"] = _provider_config(service, handler, mode, names)
        return record
    config = {key: getattr(service, key) for key in CONFIG_FIELDS if key != "password"}
    put_secret(config, "password", service.password, mode)
    record["config"] = config
    return record


def rule_record(rule: RoleServiceAccess, names: Names) -> dict[str, Any]:
    """One of a role's access rules as the file holds it."""
    return {
        "service": names.services.get(rule.service_id) if rule.service_id else None,
        "component": rule.component,
        "verb_mask": rule.verb_mask,
        "requestor_mask": rule.requestor_mask,
        "filters": rule.filters,
        "filter_op": rule.filter_op,
    }


def sorted_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rule records in a stable order, so two sets of rules compare as sets."""
    return sorted(rules, key=lambda r: json.dumps(r, sort_keys=True))


def _role_record(role: Role, names: Names) -> dict[str, Any]:
    rules = [rule_record(rule, names) for rule in role.accesses.all()]
    return {
        "name": role.name,
        **{key: getattr(role, key) for key in ROLE_FIELDS},
        "rules": sorted_rules(rules),
    }


def _app_record(app: App, names: Names) -> dict[str, Any]:
    return {
        "name": app.name,
        **{key: getattr(app, key) for key in APP_FIELDS},
        "role": names.role(app.role_id),
    }


def _user_record(user: User, names: Names) -> dict[str, Any]:
    app_roles = [
        {"app": names.apps[link.app_id], "role": names.role(link.role_id)}
        for link in user.app_roles.all()
    ]
    return {
        "email": user.email,
        **{key: getattr(user, key) for key in USER_FIELDS},
        "app_roles": sorted(app_roles, key=lambda link: str(link["app"])),
    }


def _limit_record(limit: Limit, names: Names) -> dict[str, Any]:
    return {
        "name": limit.name,
        **{key: getattr(limit, key) for key in LIMIT_FIELDS},
        "period": limit.period_name,
        "user": names.users.get(limit.user_id) if limit.user_id else None,
        "role": names.role(limit.role_id),
        "service": names.services.get(limit.service_id) if limit.service_id else None,
    }


def _lookup_owner(lookup: Lookup, names: Names) -> tuple[str, str]:
    """("", "") for a system lookup, else the owner's kind and name."""
    if lookup.app_id:
        return "app", names.apps[lookup.app_id]
    if lookup.role_id:
        return "role", names.roles[lookup.role_id]
    if lookup.user_id:
        return "user", names.users[lookup.user_id]
    return "", ""


def _lookup_record(lookup: Lookup, mode: str, names: Names) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": lookup.name,
        "private": lookup.private,
        "description": lookup.description,
    }
    kind, owner = _lookup_owner(lookup, names)
    if kind:
        record[kind] = owner
    if lookup.private:
        put_secret(record, "value", lookup.value, mode)
    else:
        record["value"] = lookup.value
    return record


def _cors_record(rule: CorsRule) -> dict[str, Any]:
    return {
        "path": rule.path,
        "origin": rule.origin,
        **{key: getattr(rule, key) for key in CORS_FIELDS},
        "method": rule.method,
    }


def _unique(records: list[dict[str, Any]], key: Any, what: str) -> list[dict[str, Any]]:
    """Records sorted by their key; two with one key cannot be told apart on import (400)."""
    keyed = sorted(records, key=key)
    for before, after in itertools.pairwise(keyed):
        if key(before) == key(after):
            raise BadRequest(
                f"Two {what} share the key {key(after)!r}; give them distinct names "
                "before exporting (records are matched by that key on import)."
            )
    return keyed


def export_config(secrets: str = "omit") -> dict[str, Any]:
    """The document (see the module's docstring); `secrets` is `omit` or `encrypted`."""
    mode = secrets if secrets == PLAIN else secret_mode(secrets)
    names = Names()
    admins = set(User.objects.filter(is_staff=True).values_list("pk", flat=True))
    users = User.objects.filter(is_staff=False).prefetch_related("app_roles")
    limits = Limit.objects.exclude(user_id__in=admins)
    lookups = Lookup.objects.exclude(user_id__in=admins)
    return {
        "format": FORMAT,
        "version": VERSION,
        "secrets": mode,
        "services": sorted(
            (service_record(s, mode, names) for s in Service.objects.all()),
            key=lambda r: str(r["name"]),
        ),
        "roles": sorted(
            (_role_record(r, names) for r in Role.objects.prefetch_related("accesses")),
            key=lambda r: str(r["name"]),
        ),
        "apps": sorted((_app_record(a, names) for a in App.objects.all()), key=lambda r: r["name"]),
        "users": sorted((_user_record(u, names) for u in users), key=lambda r: r["email"]),
        "limits": _unique([_limit_record(x, names) for x in limits], name_key, "limits"),
        "lookups": _unique(
            [_lookup_record(x, mode, names) for x in lookups], lookup_key, "lookups"
        ),
        "cors": _unique([_cors_record(x) for x in CorsRule.objects.all()], cors_key, "CORS rules"),
    }
