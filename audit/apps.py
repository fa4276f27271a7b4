"""AuditConfig.ready(): register the audit observer and the system checks; nothing at import."""

from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from audit import checks  # noqa: F401  (registers the system checks)
        from audit.recorder import recorder
        from core.context import add_observer

        add_observer(recorder.observe)
        recorder.install_exit_flush()
