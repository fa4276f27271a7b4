"""Admin console registration for services (customised further in the admin issue #4)."""

from django.contrib import admin

from services.models import Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ("name", "label", "is_active", "host", "database", "schema")
    search_fields = ("name", "label", "host", "database")
    exclude = ("password",)
