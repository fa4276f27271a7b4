"""rbac.saml_login, imported on first use: pysaml2 takes about a second to import (it parses
its XML schemas), which every worker and test process would pay at start-up otherwise."""

from __future__ import annotations

from types import ModuleType


def saml_login() -> ModuleType:
    from rbac import saml_login as module

    return module
