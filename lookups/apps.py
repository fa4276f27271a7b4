from django.apps import AppConfig


class LookupsConfig(AppConfig):
    name = "lookups"
    verbose_name = "Lookups"

    def ready(self) -> None:
        from lookups import signals  # noqa: F401  (bumps the metadata version on changes)
