"""OrderViewSet: CRUD on /orders/, list filtered by ?customer_id= and cut by ?limit=.

With `customer_id` the list is that customer's orders, newest first (W2); without it, the
orders by id (W3). `limit` caps the number of rows (no pagination class).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from bench.baseline.models import Order
from bench.baseline.serializers import OrderSerializer


def _int_param(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: "must be an integer"}) from None


class OrderViewSet(viewsets.ModelViewSet):
    serializer_class = OrderSerializer
    queryset = Order.objects.all()

    def get_queryset(self) -> QuerySet[Order]:
        queryset = super().get_queryset()
        if self.action != "list":
            return queryset
        params = self.request.query_params
        customer_id = _int_param(params, "customer_id")
        if customer_id is not None:
            queryset = queryset.filter(customer_id=customer_id).order_by("-created_at")
        else:
            queryset = queryset.order_by("id")
        limit = _int_param(params, "limit")
        if limit is not None:
            queryset = queryset[: max(limit, 0)]
        return queryset


@api_view(["POST"])
def order_status(request: Request) -> Response:
    """W5: the SQL function bench_order_status(p_id), called as a DRF developer would."""
    p_id = _int_param({"p_id": str(request.data.get("p_id", ""))}, "p_id")
    with connection.cursor() as cursor:
        cursor.execute("SELECT bench_order_status(%s)", [p_id])
        row = cursor.fetchone()
    return Response(row[0] if row else None)
