"""The gateway app: system checks, the metrics observer (unless GATEWAY_METRICS is false) and the
exit hook, set up in ready()."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        import gateway.checks  # noqa: F401  (registers the system checks)
        from core import shutdown
        from core.context import add_observer
        from gateway import metrics
        from gateway.logs import log_failure

        add_observer(log_failure)
        if settings.GATEWAY_METRICS:  # off: requests are not recorded, /metrics answers 404
            add_observer(metrics.observe)
        shutdown.install()
