"""/orders/ and /orders/<id>/ through a DRF router."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from bench.baseline.views import OrderViewSet

router = DefaultRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = router.urls
