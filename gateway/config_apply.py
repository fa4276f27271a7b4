"""Applying one record of a configuration file: each kind created or updated by its key,
answering the `Change` it made (nothing the record does not mention is deleted; a role's
`rules`, when given, are that role's rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from apikeys.api import new_key
from apikeys.models import App
from core.errors import BadRequest
from core.models import CorsRule
from gateway.config_export import Names, provider_model, rule_record, service_record, sorted_rules
from gateway.config_format import (
    APP_FIELDS,
    APP_KEYS,
    CORS_FIELDS,
    CORS_KEYS,
    LIMIT_FIELDS,
    LIMIT_KEYS,
    LOOKUP_KEYS,
    OWNERS,
    ROLE_FIELDS,
    ROLE_KEYS,
    RULE_KEYS,
    SERVICE_INFO,
    SERVICE_KEYS,
    USER_FIELDS,
    USER_KEYS,
    lookup_key,
)
from gateway.config_rows import about, assign, found_or_new, only, picked, store
from gateway.config_secrets import PLAIN, secret_fields, secret_in
from gateway.config_values import (
    app_id_map,
    id_map,
    listed,
    mask,
    ref,
    role_ref,
    service_ref,
    text,
)
from limits.api import check_limit
from limits.models import PERIODS, Limit
from lookups.models import NO_OWNER, Lookup
from lookups.text import NAME as LOOKUP_NAME
from rbac.models import Role, RoleServiceAccess, User, UserAppRole
from rbac.role_api import DB_ROLE
from services.models import DATABASE_TYPE, Service
from services.system.service_types import CONFIG_FIELDS, PROVIDERS, ProviderConfig, check_type


@dataclass(frozen=True)
class Change:
    """What the import did (or, in a dry run, would do) to one record."""

    kind: str  # service, role, app, user, limit, lookup, cors
    key: str
    action: str  # created, updated, unchanged

    @classmethod
    def of(cls, kind: str, key: str, created: bool, changed: bool) -> Change:
        action = "created" if created else "updated" if changed else "unchanged"
        return cls(kind, key, action)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "action": self.action}

    def line(self) -> str:
        return f"{self.action:<9} {self.kind} {self.key}"


# services --------------------------------------------------------------------------------


def service(record: dict[str, Any]) -> Change:
    only(record, SERVICE_KEYS)
    name = record["name"]
    kind = check_type(record.get("type", DATABASE_TYPE))
    config = record.get("config") or {}
    if not isinstance(config, dict):
        raise BadRequest("config must be an object of the service's settings.")
    found, created = found_or_new(Service.objects.filter(name=name), {"name": name, "type": kind})
    if not created and found.type != kind:
        raise BadRequest(
            f"a service's type cannot change (it is {found.type} here, {kind} in the "
            "file); rename one of them."
        )
    handler = PROVIDERS.get(kind)
    if handler is not None:
        return _provider(found, record, config, handler, created)
    unknown = sorted(set(config) - set(CONFIG_FIELDS))
    if unknown:
        raise BadRequest(f"unknown config key(s) {', '.join(unknown)}.")
    values = {**picked(record, SERVICE_INFO), **config}
    if config.get("password") is not None:
        values["password"] = secret_in(config["password"], "config.password")
    before = assign(found, values)
    blank_schema = ["schema"] if not found.schema else []
    changed = store(found, before, created, exclude=blank_schema)
    return Change.of("service", name, created, changed)


def _provider(
    found: Service,
    record: dict[str, Any],
    config: dict[str, Any],
    handler: ProviderConfig,
    created: bool,
) -> Change:
    before_record = None if created else service_record(found, PLAIN, Names())
    config = dict(config)
    for key in secret_fields(provider_model(handler)):
        if key in config:
            config[key] = secret_in(config[key], f"config.{key}")
    if "default_role" in config:
        config["default_role"] = role_ref(config["default_role"], "config.default_role")
    if "role_map" in config:
        config["role_map"] = id_map(config["role_map"], "config.role_map")
    if "app_role_map" in config:
        config["app_role_map"] = app_id_map(config["app_role_map"])
    before = assign(found, picked(record, SERVICE_INFO))
    store(found, before, created, exclude=["host", "database"])
    handler.write(found, config, creating=created)
    after_record = service_record(found, PLAIN, Names())
    return Change.of("service", found.name, created, before_record != after_record)


# roles, apps, users ----------------------------------------------------------------------


def role(record: dict[str, Any]) -> Change:
    only(record, ROLE_KEYS)
    name = record["name"]
    found, created = found_or_new(Role.objects.filter(name=name), {"name": name})
    db_role = record.get("db_role")
    if db_role and (not isinstance(db_role, str) or not DB_ROLE.match(db_role)):
        raise BadRequest(
            "db_role must be a PostgreSQL role name: letters, digits, _ and $, starting "
            "with a letter or _."
        )
    changed = store(found, assign(found, picked(record, ROLE_FIELDS)), created)
    if "rules" in record:
        changed = _rules(found, record["rules"]) or changed
    return Change.of("role", name, created, changed)


def _rules(found: Role, items: Any) -> bool:
    """Make the role's rules the document's (compared as a set); True when they differ."""
    items = listed(items, "rules", "access rules")
    wanted = [_rule(found, item, f"rules[{i}]") for i, item in enumerate(items)]
    names = Names()
    current = sorted_rules([rule_record(r, names) for r in found.accesses.all()])
    if sorted_rules([rule_record(r, names) for r in wanted]) == current:
        return False
    found.accesses.all().delete()
    for rule in wanted:
        rule.save()
    return True


def _rule(owner: Role, item: Any, where: str) -> RoleServiceAccess:
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object.")
    with about(where):
        only(item, RULE_KEYS)
        requestor = item.get("requestor_mask", 1)
        if requestor not in (1, 2, 3):
            raise BadRequest("requestor_mask must be 1 (API), 2 (SCRIPT) or 3 (both).")
        rule = RoleServiceAccess(
            role=owner,
            service_id=service_ref(item.get("service")),
            component=str(item.get("component", "*")).strip(),
            verb_mask=mask(item.get("verb_mask", 1), "verb_mask"),
            requestor_mask=requestor,
            filters=item.get("filters") or [],
            filter_op=str(item.get("filter_op") or "AND").upper(),
        )
        rule.full_clean(exclude=["role"])
    return rule


def app(record: dict[str, Any]) -> Change:
    only(record, APP_KEYS)
    name = record["name"]
    found, created = found_or_new(App.objects.filter(name=name), {"name": name})
    if created:
        new_key(found)  # a new key, shown nowhere: regenerate it to read it
    values = picked(record, APP_FIELDS)
    if "role" in record:
        values["role_id"] = role_ref(record["role"])
    before = assign(found, values)
    changed = store(
        found, before, created, exclude=["api_key_prefix", "api_key_digest", "key_created_date"]
    )
    return Change.of("app", name, created, changed)


def user(record: dict[str, Any]) -> Change:
    only(record, USER_KEYS)
    email = record["email"].strip().lower()
    found, created = found_or_new(User.objects.filter(email=email), {"email": email})
    if not created and found.is_staff:
        raise BadRequest("is an admin of this gateway; an import never changes admins.")
    if created:
        found.set_unusable_password()  # signs in through a provider or a password reset
    before = assign(found, picked(record, USER_FIELDS))
    changed = store(found, before, created, exclude=["password"])
    if "app_roles" in record:
        changed = _app_roles(found, record["app_roles"]) or changed
    return Change.of("user", email, created, changed)


def _app_roles(found: User, items: Any) -> bool:
    """Set the user's role for each app named (other apps' roles stay)."""
    changed = False
    for i, item in enumerate(listed(items, "app_roles", '{"app": ..., "role": ...}')):
        if not isinstance(item, dict) or set(item) != {"app", "role"}:
            raise BadRequest(f'app_roles[{i}] must be {{"app": <name>, "role": <name>}}.')
        app_id = ref(App, "name", item["app"], f"app_roles[{i}].app")
        role_id = role_ref(item["role"], f"app_roles[{i}].role")
        if app_id is None or role_id is None:
            raise BadRequest(f"app_roles[{i}] must name an app and a role.")
        link = UserAppRole.objects.filter(user=found, app_id=app_id).first()
        if link is None:
            UserAppRole.objects.create(user=found, app_id=app_id, role_id=role_id)
            changed = True
        elif link.role_id != role_id:
            link.role_id = role_id
            link.save()
            changed = True
    return changed


# limits, lookups, CORS -------------------------------------------------------------------


def limit(record: dict[str, Any]) -> Change:
    only(record, LIMIT_KEYS)
    name = record["name"]
    found, created = found_or_new(
        Limit.objects.filter(name=name),
        {"name": name},
        "more than one limit has this name here; rename one of them.",
    )
    values = picked(record, LIMIT_FIELDS)
    if "period" in record:
        period = record["period"]
        if period not in PERIODS:
            raise BadRequest(f"period must be one of {', '.join(PERIODS)}.")
        values["period"] = PERIODS.index(period)
    if "user" in record:
        values["user_id"] = ref(User, "email", record["user"], "user")
    if "role" in record:
        values["role_id"] = role_ref(record["role"])
    if "service" in record:
        values["service_id"] = service_ref(record["service"])
    changed = store(found, assign(found, values), created, check=check_limit)
    return Change.of("limit", name, created, changed)


def lookup(record: dict[str, Any]) -> Change:
    only(record, LOOKUP_KEYS)
    kind, owner, name = lookup_key(record)
    if not LOOKUP_NAME.match(name):
        raise BadRequest(
            "a lookup name is letters, digits and _ (at most 64, not starting with a digit)."
        )
    owners = [k for k in OWNERS if record.get(k) is not None]
    if len(owners) > 1:
        raise BadRequest("a lookup has at most one owner (app, role or user).")
    scope: dict[str, Any] = {}
    if kind == "app":
        scope["app_id"] = ref(App, "name", owner, "app")
    elif kind == "role":
        scope["role_id"] = role_ref(owner)
    elif kind == "user":
        scope["user_id"] = ref(User, "email", owner, "user")
    rows = Lookup.objects.filter(**scope) if scope else Lookup.objects.filter(NO_OWNER)
    found, created = found_or_new(rows.filter(name=name), {"name": name, **scope})
    values = picked(record, ("private", "description"))
    private = bool(record.get("private", found.private))
    if "value" in record:
        value = record["value"]
        if private:
            value = secret_in(value, "value")
        elif value is not None and not isinstance(value, str):
            raise BadRequest("value must be a string.")
        values["value"] = value
    changed = store(found, assign(found, values), created)
    return Change.of("lookup", "/".join(filter(None, (kind, owner, name))), created, changed)


def cors(record: dict[str, Any]) -> Change:
    only(record, CORS_KEYS)
    path, origin = text(record["path"], "path"), text(record["origin"], "origin")
    if path.startswith("^"):
        try:
            re.compile(path)
        except re.error as exc:
            raise BadRequest(f"path is not a valid regular expression: {exc}.") from None
    found, created = found_or_new(
        CorsRule.objects.filter(path=path, origin=origin),
        {"path": path, "origin": origin},
        "more than one CORS rule has this path and origin here.",
    )
    values = picked(record, CORS_FIELDS)
    if "method" in record:
        values["method"] = mask(record["method"], "method")
    changed = store(found, assign(found, values), created)
    return Change.of("cors", f"{path} {origin}", created, changed)
