"""The gateway app: system checks, the metrics observer and the exit hook, set up in ready()."""

from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        import gateway.checks  # noqa: F401  (registers the system checks)
        from gateway import metrics, shutdown
        from gateway.context import add_observer

        add_observer(metrics.observe)
        shutdown.install()
