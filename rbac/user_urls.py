"""Routes of the user service (`/api/v2/user/...`) and of `system/admin` (included by
gateway/api_urls.py after the session and register routes, which stay there)."""

from django.urls import path, re_path

from rbac import admin_api, custom_api, password_api, profile_api, user_service

_NO_ID = ("session", "register", "profile", "password")
_ADMIN_NO_ID = ("session", "password", "profile")

urlpatterns = [
    path("api/v2/user", user_service.UserServiceRoot.as_view()),
    path("api/v2/user/profile", profile_api.ProfileView.as_view()),
    path("api/v2/user/password", password_api.PasswordView.as_view()),
    path("api/v2/user/custom", custom_api.CustomView.as_view()),
    path("api/v2/user/custom/<str:name>", custom_api.CustomView.as_view()),
    path("api/v2/system/admin", admin_api.admin_collection),
    path("api/v2/system/admin/password", password_api.AdminPasswordView.as_view()),
    path("api/v2/system/admin/profile", profile_api.AdminProfileView.as_view()),
    # not in the OpenAPI document: a trailing slash (kept by DF, spec §1.1), ids on resources
    # that take none, unknown resources
    re_path(r"^api/v2/(?:user|system/admin)(?:/[^/]+){0,2}/$", user_service.trailing_slash),
    *(
        re_path(rf"^api/v2/user/{name}/(?P<rest>.+)$", user_service.no_sub_resource(f"user/{name}"))
        for name in _NO_ID
    ),
    *(
        re_path(
            rf"^api/v2/system/admin/{name}/(?P<rest>.+)$",
            user_service.no_sub_resource(f"system/admin/{name}"),
        )
        for name in _ADMIN_NO_ID
    ),
    re_path(r"^api/v2/user/(?P<rest>.+)$", user_service.UnknownResource.as_view()),
    path("api/v2/system/admin/<str:pk>", admin_api.admin_detail),
]
