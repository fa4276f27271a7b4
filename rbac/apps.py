from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "rbac"
    verbose_name = "Users and access"

    def ready(self) -> None:
        from rbac import signals  # noqa: F401  (connects the access-change handlers)
