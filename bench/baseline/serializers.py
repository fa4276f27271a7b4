"""ModelSerializer with every field."""

from __future__ import annotations

from rest_framework import serializers

from bench.baseline.models import Order


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = "__all__"
