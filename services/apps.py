from django.apps import AppConfig


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = "Services"

    def ready(self) -> None:
        from services import signals  # noqa: F401  (connects the metadata-change handlers)
        from services.execution import read_cache
        from services.registry import registry

        registry.on_schema_reload(read_cache.invalidate_service)
        # the system API's `filter` and `order` use the data API's grammars (core/record_query)
        from core.record_query import use_translators
        from services.system.record_query import filter_q, order_by

        use_translators(filter_q, order_by)
