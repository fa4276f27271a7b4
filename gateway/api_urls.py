"""The system API under /api/v2/ (DRF): services and the admin session."""

from django.urls import path, re_path

from gateway import docs_views
from rbac import api as rbac_api
from services import api as services_api

urlpatterns = [
    re_path(r"^api(?:/v2)?/?$", services_api.ServiceDirectory.as_view()),
    path("api/v2/system/admin/session", rbac_api.AdminSessionView.as_view()),
    path("api/v2/system/service", services_api.ServiceCollection.as_view()),
    path("api/v2/system/service/<int:pk>", services_api.ServiceDetail.as_view()),
    path("api/v2/system/service/<int:pk>/_test", services_api.ServiceTest.as_view()),
    path("api/v2/system/service_type", services_api.ServiceTypes.as_view()),
    re_path(r"^api/v2/api_docs/?$", docs_views.spec_list),
    re_path(r"^api/v2/api_docs/(?P<service>[_0-9a-zA-Z.-]+)/?$", docs_views.service_spec),
]
