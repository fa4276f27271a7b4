from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Services"

    def ready(self) -> None:
        from services import signals  # noqa: F401  (connects the metadata-change handlers)
        from services.execution import read_cache
        from services.registry import registry

        registry.on_schema_reload(read_cache.invalidate_service)
