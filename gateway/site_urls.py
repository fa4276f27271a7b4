"""Routes for the site's own pages: `/` and `/docs/` (included by gateway/urls.py)."""

from __future__ import annotations

from django.urls import path

from gateway import site_views

urlpatterns = [
    path("", site_views.landing, name="landing"),
    path("docs/", site_views.docs_index, name="docs-index"),
]
