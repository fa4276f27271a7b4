"""How an access rule names the system API (spec §9: "a role that grants system components").

DF's system API is a service of its own (`system`), so its rules carry that service's id. Here
the system API is no Service row: a rule for it has no service and a component starting with
`system`, e.g. `system/role` (the role list), `system/role/*` (roles and each role),
`system/*` (every system resource), `system` (the list of system resources). When roles are
loaded, such a rule becomes a rule for the pseudo service SYSTEM_SERVICE with the component
below `system/`, so the usual most-specific-level match applies (rbac/rules.py), and no
data-API service ever matches it (an all-services `*` rule does not reach the system API).
"""

from __future__ import annotations

SYSTEM_SERVICE = -1  # no Service row has this id
SYSTEM = "system"
# system resources no role reaches: only admins manage admins, and the configuration package
# and import read and write every record and secret
ADMIN_ONLY = frozenset({"admin", "package", "import"})


def system_component(component: str) -> str | None:
    """The component below `system/` of a normalised rule component; None if not a system one."""
    if component == SYSTEM:
        return ""
    if component.startswith(SYSTEM + "/"):
        return component[len(SYSTEM) + 1 :]
    return None
