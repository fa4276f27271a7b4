"""The bench_orders table, as an unmanaged model (bench/fixture.py creates it)."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    id = models.BigAutoField(primary_key=True)
    customer_id = models.IntegerField()
    status = models.TextField()
    total = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField()
    note = models.TextField(null=True, blank=True)  # noqa: DJ001 - the column is nullable

    class Meta:
        managed = False
        db_table = "bench_orders"

    def __str__(self) -> str:
        return f"order {self.id}"
