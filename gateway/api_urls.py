"""The system API under /api/v2/ (DRF): services, roles, apps, users, sessions."""

from django.urls import path, re_path

from apikeys import api as apps_api
from gateway import config_api, cors_api, directory, docs_views, system_root
from limits import api as limits_api
from lookups import api as lookups_api
from rbac import role_api, saml_urls, session_api, user_api, user_urls
from services.system import api as services_api
from services.system import cache_api

urlpatterns = [
    re_path(r"^api(?:/v2)?/?$", directory.ServiceDirectory.as_view()),
    path("api/v2/system/admin/session", session_api.AdminSessionView.as_view()),
    path("api/v2/system/environment", session_api.EnvironmentView.as_view()),
    path("api/v2/user/session", session_api.UserSessionView.as_view()),
    path("api/v2/user/register", session_api.RegisterView.as_view()),
    *saml_urls.urlpatterns,  # SAML sign-in under /api/v2/user/saml/ (before the catch-alls)
    *user_urls.urlpatterns,  # the rest of the user service, and system/admin
    path("api/v2/system/service", services_api.service_collection),
    path("api/v2/system/service/<int:pk>", services_api.service_detail),
    path("api/v2/system/service/<int:pk>/_test", services_api.ServiceTest.as_view()),
    path("api/v2/system/service_type", services_api.ServiceTypes.as_view()),
    path("api/v2/system/service_type/<str:name>", services_api.ServiceTypeDetail.as_view()),
    path("api/v2/system/package", config_api.ConfigPackage.as_view()),
    path("api/v2/system/import", config_api.ConfigImport.as_view()),
    re_path(r"^api/v2/system/?$", system_root.SystemRoot.as_view()),
    path("api/v2/system/cors", cors_api.cors_collection),
    path("api/v2/system/cors/<str:pk>", cors_api.cors_detail),
    path("api/v2/system/role", role_api.role_collection),
    path("api/v2/system/role/<str:pk>", role_api.role_detail),
    path("api/v2/system/app", apps_api.app_collection),
    path("api/v2/system/app/<str:pk>", apps_api.app_detail),
    path("api/v2/system/user", user_api.user_collection),
    path("api/v2/system/user/<str:pk>", user_api.user_detail),
    path("api/v2/system/lookup", lookups_api.lookup_collection),
    path("api/v2/system/lookup/<str:pk>", lookups_api.lookup_detail),
    path("api/v2/system/cache", cache_api.CacheView.as_view()),
    path("api/v2/system/cache/<str:service>", cache_api.ServiceCacheView.as_view()),
    path("api/v2/system/limit", limits_api.limit_collection),
    path("api/v2/system/limit/<str:pk>", limits_api.limit_detail),
    path("api/v2/system/limit_cache", limits_api.LimitCacheView.as_view()),
    path("api/v2/system/limit_cache/<str:pk>", limits_api.LimitCacheDetail.as_view()),
    re_path(r"^api/v2/api_docs/?$", docs_views.spec_list),
    re_path(r"^api/v2/api_docs/(?P<service>[_0-9a-zA-Z.-]+)/?$", docs_views.service_spec),
]
