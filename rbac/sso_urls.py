"""Routes of the browser sign-in providers under /api/v2/user/ (included by gateway/api_urls.py
before the user service's catch-alls)."""

from rbac import oidc_urls, saml_urls

urlpatterns = [*oidc_urls.urlpatterns, *saml_urls.urlpatterns]
