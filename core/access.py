"""What a caller may do, as the layers below rbac see it: a verb mask and per-component masks.

rbac.policy.Grant is the implementation; services take this protocol (plain data and two
lookups), never rbac's types, so the layers keep pointing one way.
"""

from __future__ import annotations

from typing import Protocol

from core.verbs import ALL_VERBS


class Access(Protocol):
    """The caller's rights on one component of one service, and on its other components."""

    @property
    def verbs(self) -> int:
        """The verb mask (core.verbs bits) on this component."""
        ...

    @property
    def is_admin(self) -> bool:
        """An admin, to whom no rule or row filter applies."""
        ...

    def mask(self, component: str) -> int:
        """The verbs allowed on another component of the same service."""
        ...

    def check(self, component: str, verb: str) -> Access:
        """The rights on another component, or the refusal (a GatewayError) for that verb."""
        ...


class FullAccess:
    """An admin's rights: every verb on every component."""

    verbs = ALL_VERBS
    is_admin = True

    def mask(self, component: str) -> int:
        return ALL_VERBS

    def check(self, component: str, verb: str) -> FullAccess:
        return self


FULL_ACCESS = FullAccess()
