"""Root URLs: the admin console, operations (/health, /ready, /metrics), the system API's OpenAPI
document.

/api/ requests never reach this urlconf: gateway.middleware.ApiMiddleware answers them.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from gateway import docs_views, views
from rbac import oidc_admin

urlpatterns = [
    # the console's login page offers "Sign in with <provider>" (issue #15)
    path("admin/login/", oidc_admin.login_page, name="admin-login"),
    path("admin/sso/<str:name>/", oidc_admin.start, name="admin-sso"),
    path("admin/sso/<str:name>/callback/", oidc_admin.finish, name="admin-sso-callback"),
    path("admin/", admin.site.urls),
    path("health", views.health, name="health"),
    path("ready", views.ready, name="ready"),
    path("metrics", views.metrics_view, name="metrics"),
    re_path(r"^docs/(?P<service>[_0-9a-zA-Z.-]+)/$", docs_views.docs_page, name="api-docs"),
    path(
        "openapi/system.json",
        SpectacularAPIView.as_view(urlconf="gateway.api_urls"),
        name="system-schema",
    ),
    path("", include("gateway.site_urls")),  # the landing page and the API docs index
]
