"""Routes of the OIDC sign-in (issue #15)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
