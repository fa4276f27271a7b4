"""/orders/ and /orders/<id>/ through a DRF router."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from bench.baseline.views import OrderViewSet, order_status

router = DefaultRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = [*router.urls, path("func/order_status/", order_status)]
