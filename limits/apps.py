from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "limits"
    verbose_name = "Rate limits"

    def ready(self) -> None:
        from limits import signals  # noqa: F401  (limit changes reach every process)
