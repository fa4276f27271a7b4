"""Root URLs: the admin console, health, and the system API's OpenAPI document.

/api/ requests never reach this urlconf: gateway.middleware.ApiMiddleware answers them.
"""

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from gateway import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health", views.health, name="health"),
    path(
        "openapi/system.json",
        SpectacularAPIView.as_view(urlconf="gateway.api_urls"),
        name="system-schema",
    ),
]
